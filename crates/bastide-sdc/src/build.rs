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

    fn cell(&self, aggregate: Aggregate) -> CellData {
        let value = match aggregate {
            Aggregate::Count => Some(self.records as f64),
            Aggregate::Sum => (self.valued > 0).then_some(self.sum),
            Aggregate::Mean => (self.valued > 0).then(|| self.sum / self.valued as f64),
        };
        let contributions = if aggregate.is_magnitude() {
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

/// Builds a [`Table`] from records.
#[derive(Debug)]
pub struct Builder {
    aggregate: Aggregate,
    two_way: bool,
    records: Vec<(Label, Label, Person, Option<f64>)>,
}

impl Builder {
    /// A table of `aggregate`s; `two_way` when records have column categories too.
    pub fn new(aggregate: Aggregate, two_way: bool) -> Self {
        Self {
            aggregate,
            two_way,
            records: Vec::new(),
        }
    }

    /// Adds a record: its row (and column) categories, its person (none: the record
    /// is a person of its own), and its value (none: missing).
    pub fn add(
        &mut self,
        row: Label,
        col: Label,
        person: Option<&str>,
        value: Option<f64>,
    ) -> Result<()> {
        if value.is_some_and(|v| !v.is_finite()) {
            return Err(Error::NotFinite {
                place: format!("record {}", self.records.len() + 1),
            });
        }
        let person = match person {
            Some(name) => Person::Named(name.to_owned()),
            None => Person::Record(self.records.len() as u64),
        };
        let col = if self.two_way { col } else { Vec::new() };
        self.records.push((row, col, person, value));
        Ok(())
    }

    /// The table, with its totals.
    pub fn build(self) -> Result<Table> {
        if self.records.is_empty() {
            return Err(Error::Empty);
        }
        let rows = sorted(self.records.iter().map(|r| &r.0));
        let cols = sorted(self.records.iter().map(|r| &r.1));
        let row_of: HashMap<&Label, usize> = rows.iter().enumerate().map(|(i, l)| (l, i)).collect();
        let col_of: HashMap<&Label, usize> = cols.iter().enumerate().map(|(i, l)| (l, i)).collect();
        let width = if self.two_way { cols.len() + 1 } else { 1 };
        let mut grid = vec![Accumulator::default(); (rows.len() + 1) * width];
        for (row, col, person, value) in &self.records {
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
                grid[target].add(person, *value);
            }
        }
        let cells = grid.iter().map(|a| a.cell(self.aggregate)).collect();
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

fn natural(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y).then_with(|| a.cmp(b)),
        _ => a.cmp(b),
    }
}
