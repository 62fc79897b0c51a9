//! Tables from person-level records: one record per contribution (a stay, a claim),
//! with the person it belongs to, its categories and its value. The builder counts the
//! distinct persons of every cell and each one's contribution, and computes the totals
//! from the records (never by adding cells, so a person in two cells counts once in
//! their total).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use crate::{Aggregate, CellData, Error, Result, Table};

/// A category: one value per grouping column.
pub type Label = Vec<String>;

/// Who a record belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Person {
    Named(String),
    /// The n-th record, when records name no person: each is a person of its own.
    Record(u64),
}

#[derive(Debug, Default, Clone)]
struct Accumulator {
    records: u64,
    persons: HashMap<Person, f64>,
    sum: f64,
    valued: u64,
    missing: bool,
}

impl Accumulator {
    fn add(&mut self, person: &Person, value: Option<f64>) {
        self.records += 1;
        let contribution = self.persons.entry(person.clone()).or_insert(0.0);
        match value {
            Some(v) => {
                *contribution += v;
                self.sum += v;
                self.valued += 1;
            }
            None => self.missing = true,
        }
    }

    fn merge(&mut self, other: &Self) {
        self.records += other.records;
        for (person, contribution) in &other.persons {
            *self.persons.entry(person.clone()).or_insert(0.0) += contribution;
        }
        self.sum += other.sum;
        self.valued += other.valued;
        self.missing |= other.missing;
    }

    /// The cell; `named` when records name their persons, whose shares of a count
    /// are then judged like contributions to a sum (one person's hundred stays).
    fn cell(&self, aggregate: Aggregate, named: bool) -> CellData {
        let value = match aggregate {
            Aggregate::Count => Some(self.records as f64),
            Aggregate::Sum => (self.valued > 0).then_some(self.sum),
            Aggregate::Mean => (self.valued > 0).then(|| self.sum / self.valued as f64),
        };
        let contributions = if aggregate.is_magnitude() || named {
            self.persons.values().copied().collect()
        } else {
            Vec::new()
        };
        CellData {
            records: self.records,
            persons: self.persons.len() as u64,
            value,
            contributions,
            missing: self.missing,
        }
    }
}

/// Builds a [`Table`] from records, keeping one accumulator per cell (not the
/// records).
#[derive(Debug)]
pub struct Builder {
    aggregate: Aggregate,
    two_way: bool,
    cells: HashMap<(Label, Label), Accumulator>,
    records: u64,
    named: bool,
}

impl Builder {
    /// A table of `aggregate`s; `two_way` when records have column categories too.
    pub fn new(aggregate: Aggregate, two_way: bool) -> Self {
        Self {
            aggregate,
            two_way,
            cells: HashMap::new(),
            records: 0,
            named: false,
        }
    }

    /// Adds a record: its row (and column) categories, its person (none: the record
    /// is a person of its own), and its value (none: missing; ignored by counts).
    pub fn add(
        &mut self,
        row: Label,
        col: Label,
        person: Option<&str>,
        value: Option<f64>,
    ) -> Result<()> {
        self.records += 1;
        if value.is_some_and(|v| !v.is_finite()) {
            return Err(Error::NotFinite {
                place: format!("record {}", self.records),
            });
        }
        let person = match person {
            Some(name) => {
                self.named = true;
                Person::Named(name.to_owned())
            }
            None => Person::Record(self.records),
        };
        // A count's contributions are records.
        let value = match self.aggregate {
            Aggregate::Count => Some(1.0),
            _ => value,
        };
        let col = if self.two_way { col } else { Vec::new() };
        self.cells
            .entry((row, col))
            .or_default()
            .add(&person, value);
        Ok(())
    }

    /// The table, with its totals (computed from the records' persons: a person in two
    /// cells of a row counts once in its total).
    pub fn build(self) -> Result<Table> {
        if self.cells.is_empty() {
            return Err(Error::Empty);
        }
        let rows = sorted(self.cells.keys().map(|k| &k.0));
        let cols = sorted(self.cells.keys().map(|k| &k.1));
        let row_of: HashMap<&Label, usize> = rows.iter().enumerate().map(|(i, l)| (l, i)).collect();
        let col_of: HashMap<&Label, usize> = cols.iter().enumerate().map(|(i, l)| (l, i)).collect();
        let width = if self.two_way { cols.len() + 1 } else { 1 };
        let mut grid = vec![Accumulator::default(); (rows.len() + 1) * width];
        for ((row, col), accumulator) in &self.cells {
            let (r, c) = (row_of[row], col_of[col]);
            let total = rows.len();
            let targets = if self.two_way {
                let last = cols.len();
                vec![
                    r * width + c,
                    r * width + last,
                    total * width + c,
                    total * width + last,
                ]
            } else {
                vec![r, total]
            };
            for target in targets {
                grid[target].merge(accumulator);
            }
        }
        let cells = grid
            .iter()
            .map(|a| a.cell(self.aggregate, self.named))
            .collect();
        Table::new(self.aggregate, rows, self.two_way.then_some(cols), cells)
    }
}

/// Distinct labels, numbers in numeric order and text in text order.
fn sorted<'a>(labels: impl Iterator<Item = &'a Label>) -> Vec<Label> {
    let distinct: BTreeSet<&Label> = labels.collect();
    let mut all: Vec<Label> = distinct.into_iter().cloned().collect();
    all.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .map(|(x, y)| natural(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    all
}

/// Numbers first, in numeric order, then text in text order: a total order, whatever
/// the mix.
fn natural(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}
