//! Feasibility counts: how many persons match a few criteria, for people without a
//! permit (a researcher sizing a study before applying). A steward opens a few columns
//! of a dataset's person-level tables (tables naming their person in an identifier
//! column) to them; any signed-in user may then count, each count spending part of
//! their privacy budget on that dataset (the noise itself is `bastide-sdc`'s).
//!
//! A count runs in a workspace like a project's, opened from a [`PermitScope`] that
//! only [`Feasibility::scope`] makes: the open columns and each table's person column,
//! opted-out persons removed as everywhere. Its rows never reach anyone: the hub reads
//! one number from it and shows it noisy.

use std::collections::BTreeMap;

use bastide_meta::MetaStore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::permits::{Grant, Mode, PermitScope, PermitTable};
use crate::{Error, Now, PersonPaths, Principal, Result, Role};

/// The pseudo-project whose workspace answers feasibility counts (its own project
/// pseudonym key, which no project shares: ids of projects start with `p-`).
pub const FEASIBILITY_PROJECT: &str = "feasibility";

/// Columns of one table open to feasibility counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenTable {
    /// The table.
    pub name: String,
    /// Its columns open to criteria.
    pub columns: Vec<String>,
}

/// A user's privacy budget on one dataset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Budget {
    /// Epsilon spent so far.
    pub spent: f64,
    /// Epsilon one may spend on the dataset in all.
    pub total: f64,
    /// What is left.
    pub left: f64,
    /// Counts made so far.
    pub counts: i64,
}

/// What the person column of each open table is, for the scope's workspace.
pub type PersonColumns = BTreeMap<String, String>;

/// Feasibility declarations and budgets of a hub.
#[derive(Debug, Clone, Copy)]
pub struct Feasibility<'a> {
    meta: &'a MetaStore,
}

impl<'a> Feasibility<'a> {
    /// Those kept in `meta`.
    pub fn new(meta: &'a MetaStore) -> Self {
        Self { meta }
    }

    /// Opens `tables`' columns of `dataset` to counts, replacing what was open (a
    /// steward). Only person-level tables, never an identifier column.
    pub async fn declare(
        &self,
        steward: &Principal,
        dataset: &str,
        tables: Vec<OpenTable>,
        now: Now,
    ) -> Result<Vec<OpenTable>> {
        steward.unbound()?;
        if !steward.roles.has(Role::Steward) {
            return Err(Error::Refused(
                "opening columns to feasibility counts needs the steward role".into(),
            ));
        }
        let stored = self.meta.datasets().tables(dataset).await?;
        if stored.is_empty() {
            return Err(Error::NotFound {
                what: "dataset",
                name: dataset.to_owned(),
            });
        }
        let mut columns = Vec::new();
        for table in &tables {
            let record = stored
                .iter()
                .find(|t| t.name == table.name)
                .ok_or_else(|| invalid(format!("dataset {dataset} has no table {}", table.name)))?;
            if record.reference || record.identifiers.is_empty() {
                return Err(invalid(format!(
                    "table {} names no person in an identifier column: only person-level tables are open to counts",
                    table.name
                )));
            }
            let schema: serde_json::Value =
                serde_json::from_str(&record.schema_json).unwrap_or_default();
            let known: Vec<&str> = schema["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["name"].as_str())
                .collect();
            if table.columns.is_empty() {
                return Err(invalid(format!(
                    "name the columns of {} to open",
                    table.name
                )));
            }
            for column in &table.columns {
                if !known.contains(&column.as_str()) {
                    return Err(invalid(format!(
                        "table {} has no column {column}",
                        table.name
                    )));
                }
                if record.identifiers.contains(column) {
                    return Err(invalid(format!(
                        "{}.{column} is an identifier: identifiers are never criteria",
                        table.name
                    )));
                }
                columns.push((table.name.clone(), column.clone()));
            }
        }
        self.meta
            .feasibility()
            .declare(dataset, &columns, &steward.name, now)
            .await?;
        self.open_tables(dataset).await
    }

    /// The columns of `dataset` open to counts (public: what may be asked, not data).
    pub async fn open_tables(&self, dataset: &str) -> Result<Vec<OpenTable>> {
        let mut tables: Vec<OpenTable> = Vec::new();
        for open in self.meta.feasibility().columns(dataset).await? {
            match tables.last_mut() {
                Some(t) if t.name == open.table => t.columns.push(open.column),
                _ => tables.push(OpenTable {
                    name: open.table,
                    columns: vec![open.column],
                }),
            }
        }
        Ok(tables)
    }

    /// The scope a count by `caller` runs in over `dataset`: its open columns and each
    /// open table's person column (returned beside it); refused to a credential bound
    /// to a project, and when nothing is open.
    pub async fn scope(
        &self,
        caller: &Principal,
        dataset: &str,
        now: Now,
    ) -> Result<(PermitScope, PersonColumns)> {
        caller.unbound()?;
        let open = self.open_tables(dataset).await?;
        if open.is_empty() {
            return Err(Error::Refused(format!(
                "no column of dataset {dataset} is open to feasibility counts: ask its stewards"
            )));
        }
        let stored = self.meta.datasets().tables(dataset).await?;
        let mut persons = PersonColumns::new();
        let mut tables = Vec::new();
        for table in &open {
            let Some(person) = stored
                .iter()
                .find(|t| t.name == table.name)
                .and_then(|t| t.identifiers.first())
            else {
                continue;
            };
            persons.insert(table.name.clone(), person.clone());
            tables.push(PermitTable {
                name: table.name.clone(),
                columns: std::iter::once(person.clone())
                    .chain(table.columns.iter().cloned())
                    .collect(),
                filters: Vec::new(),
            });
        }
        // Views are cached by project and version: the version follows the declaration.
        let digest = Sha256::digest(serde_json::to_vec(&open).expect("tables serialise"));
        let version = i64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) & i64::MAX;
        let scope = PermitScope {
            project: FEASIBILITY_PROJECT.into(),
            version,
            user: caller.name.clone(),
            grant: Grant {
                dataset: dataset.to_owned(),
                tables,
                members: vec![caller.name.clone()],
                starts_at: now,
                expires_at: now + 3600,
                mode: Mode::RowLevel,
            },
            people: PersonPaths::default(),
        };
        Ok((scope, persons))
    }

    /// What `caller` has spent on `dataset`, out of `total`.
    pub async fn budget(&self, caller: &Principal, dataset: &str, total: f64) -> Result<Budget> {
        let (spent, counts) = self.meta.feasibility().spent(&caller.name, dataset).await?;
        Ok(budget(spent, counts, total))
    }

    /// Spends `epsilon` of `caller`'s budget on `dataset` (out of `total`) before a
    /// count is shown; refused, spending nothing, when it would go past.
    pub async fn spend(
        &self,
        caller: &Principal,
        dataset: &str,
        epsilon: f64,
        total: f64,
        now: Now,
    ) -> Result<Budget> {
        let cost = micro(epsilon);
        let spent = self
            .meta
            .feasibility()
            .spend(&caller.name, dataset, cost, micro(total), now)
            .await?;
        match spent {
            Some(_) => self.budget(caller, dataset, total).await,
            None => {
                let now_spent = self.budget(caller, dataset, total).await?;
                Err(Error::Refused(format!(
                    "your privacy budget on dataset {dataset} is spent ({:.2} of {:.2}; a count costs {epsilon:.2}): apply for a project to go further",
                    now_spent.spent, total
                )))
            }
        }
    }
}

/// Epsilon in millionths, rounded up: a charge is never below the cost.
fn micro(epsilon: f64) -> i64 {
    (epsilon * 1e6 - 1e-6).ceil() as i64
}

fn budget(spent: i64, counts: i64, total: f64) -> Budget {
    let spent = spent as f64 / 1e6;
    Budget {
        spent,
        total,
        left: (total - spent).max(0.0),
        counts,
    }
}

fn invalid(problem: String) -> Error {
    Error::Invalid {
        field: "tables",
        problem,
    }
}
