//! A table of cells with its totals, and its check: primary rules on every cell
//! (totals included), secondary suppression, rounding.

use serde::Serialize;

use crate::cell::primary;
use crate::secondary::{self, Shape};
use crate::{Aggregate, CellData, Error, Label, Outcome, Result, Rule, Rules};

/// A table to check: its categories and its cells, totals included.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    aggregate: Aggregate,
    rows: Vec<Label>,
    cols: Option<Vec<Label>>,
    cells: Vec<CellData>,
}

impl Table {
    /// A table of `aggregate`s over `rows` (and `cols` for a two-way table). `cells` is
    /// row-major over the rows then their total, and the columns then their total:
    /// `(rows + 1) × (cols + 1)` cells, or `rows + 1` for a one-way table.
    pub fn new(
        aggregate: Aggregate,
        rows: Vec<Label>,
        cols: Option<Vec<Label>>,
        cells: Vec<CellData>,
    ) -> Result<Self> {
        if rows.is_empty() || cols.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::Empty);
        }
        let width = cols.as_ref().map_or(1, |c| c.len() + 1);
        if cells.len() != (rows.len() + 1) * width {
            return Err(Error::Shape {
                problem: format!(
                    "{} cells for {} rows and {} columns with their totals",
                    cells.len(),
                    rows.len(),
                    width.saturating_sub(1)
                ),
            });
        }
        let table = Self {
            aggregate,
            rows,
            cols,
            cells,
        };
        for (i, cell) in table.cells.iter().enumerate() {
            let finite = cell.value.is_none_or(f64::is_finite)
                && cell.contributions.iter().all(|c| c.is_finite());
            if !finite {
                return Err(Error::NotFinite {
                    place: table.place(i),
                });
            }
        }
        Ok(table)
    }

    fn width(&self) -> usize {
        self.cols.as_ref().map_or(1, |c| c.len() + 1)
    }

    /// The row and column of cell `i`; `None` for a total.
    fn at(&self, i: usize) -> (Option<usize>, Option<usize>) {
        let (r, c) = (i / self.width(), i % self.width());
        let row = (r < self.rows.len()).then_some(r);
        let col = match &self.cols {
            Some(cols) => (c < cols.len()).then_some(c),
            None => Some(0),
        };
        (row, col)
    }

    /// Where cell `i` is, by position: its labels are data, never repeated.
    fn place(&self, i: usize) -> String {
        let (row, col) = self.at(i);
        let name = |at: Option<usize>| at.map_or("total".to_owned(), |n| (n + 1).to_string());
        match &self.cols {
            Some(_) => format!("the cell of row {}, column {}", name(row), name(col)),
            None => format!("the cell of row {}", name(row)),
        }
    }
}

/// A table after its check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checked {
    /// What its cells hold.
    pub aggregate: Aggregate,
    /// The row categories (one label per grouping column).
    pub rows: Vec<Label>,
    /// The column categories; empty for a one-way table.
    pub cols: Vec<Label>,
    /// Every cell, totals included, row-major as in [`Table::new`].
    pub cells: Vec<CheckedCell>,
}

/// One cell after the check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckedCell {
    /// Its row, `None` for the total row.
    pub row: Option<usize>,
    /// Its column, `None` for the total column (always `Some(0)` in a one-way table).
    pub col: Option<usize>,
    /// Distinct persons behind it.
    pub persons: u64,
    /// Records behind it.
    pub records: u64,
    /// Its value as computed (shown to whoever checks their own table).
    pub value: Option<f64>,
    /// The rules it fails.
    pub fails: Vec<Rule>,
    /// What becomes of it.
    pub outcome: Outcome,
    /// What may be shown: the value (rounded when the rules round counts), or
    /// nothing when withheld.
    pub published: Option<f64>,
}

impl CheckedCell {
    /// Whether it is a total.
    pub fn is_total(&self) -> bool {
        self.row.is_none() || self.col.is_none()
    }
}

/// Checks every cell of `table` against `rules`, then withholds what must be withheld
/// so that no suppressed cell can be recomputed from the published ones and totals.
pub fn check(rules: &Rules, table: &Table) -> Result<Checked> {
    rules.validate()?;
    let fails: Vec<Vec<Rule>> = table
        .cells
        .iter()
        .map(|cell| primary(rules, table.aggregate, cell))
        .collect();
    // Values cannot go below zero, unless a contribution is negative somewhere.
    let signed = table
        .cells
        .iter()
        .any(|c| c.contributions.iter().any(|v| *v < 0.0) || c.value.is_some_and(|v| v < 0.0));
    let mut cells: Vec<secondary::Cell> = (0..table.cells.len())
        .map(|i| secondary::Cell {
            withheld: !fails[i].is_empty(),
            movable: signed || table.cells[i].value.is_some_and(|v| v > 0.0),
            cost: cost(table, i),
        })
        .collect();
    let shape = match &table.cols {
        Some(cols) => Shape::TwoWay {
            rows: table.rows.len() + 1,
            cols: cols.len() + 1,
        },
        None => Shape::OneWay {
            cells: table.rows.len() + 1,
        },
    };
    secondary::protect(shape, &mut cells);
    let withheld: Vec<bool> = cells.iter().map(|c| c.withheld).collect();
    let cells = table
        .cells
        .iter()
        .zip(fails)
        .enumerate()
        .map(|(i, (cell, fails))| {
            let (row, col) = table.at(i);
            let outcome = match (fails.is_empty(), withheld[i]) {
                (false, _) => Outcome::Suppressed,
                (true, true) => Outcome::Secondary,
                (true, false) => Outcome::Published,
            };
            let published = match outcome {
                Outcome::Published => cell.value.map(|v| rounded(rules, table.aggregate, v)),
                _ => None,
            };
            CheckedCell {
                row,
                col,
                persons: cell.persons,
                records: cell.records,
                value: cell.value,
                fails,
                outcome,
                published,
            }
        })
        .collect();
    Ok(Checked {
        aggregate: table.aggregate,
        rows: table.rows.clone(),
        cols: table.cols.clone().unwrap_or_default(),
        cells,
    })
}

/// What withholding cell `i` costs as a complement: its size, far more for a total
/// (totals are the most useful figures) and for an empty cell (a zero protects little
/// when counts cannot be negative).
fn cost(table: &Table, i: usize) -> f64 {
    let cell = &table.cells[i];
    let size = match table.aggregate {
        Aggregate::Count => cell.persons as f64,
        Aggregate::Sum | Aggregate::Mean => cell.value.unwrap_or(0.0).abs(),
    };
    let (row, col) = table.at(i);
    let mut cost = 1.0 + size;
    if cell.persons == 0 || size == 0.0 {
        cost += 1e9;
    }
    if row.is_none() || col.is_none() {
        cost += 1e12;
    }
    cost
}

fn rounded(rules: &Rules, aggregate: Aggregate, value: f64) -> f64 {
    match (rules.round_to, aggregate) {
        (Some(base), Aggregate::Count) => {
            let base = f64::from(base);
            (value / base).round() * base
        }
        _ => value,
    }
}
