//! Feasibility counts: how many persons match a few criteria, for people without a
//! permit. Stewards open columns of a dataset's person-level tables
//! ([`Hub::open_to_feasibility`]); any signed-in user then counts
//! ([`Hub::feasibility_count`]): the hub writes the query itself from the criteria
//! (typed by the columns' schema, never the user's SQL), runs it in a workspace of the
//! open columns with opted-out persons removed, adds OpenDP's discrete Laplace noise,
//! rounds, and charges the user's privacy budget on the dataset before showing it.

use std::collections::BTreeSet;
use std::sync::Arc;

use bastide_access::{Budget, Feasibility, OpenTable, PersonColumns};
use bastide_core::ids::DatasetName;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::common::ParamValues;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::now;
use crate::actions::{About, Action};
use crate::{Caller, Error, Hub, QueryFailure, Result};

/// The most criteria one count takes.
const MAX_CRITERIA: usize = 10;
/// The most values one `in` criterion lists.
const MAX_VALUES: usize = 50;

/// One criterion on an open column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// The table.
    pub table: String,
    /// The column (open to counts).
    pub column: String,
    /// `eq` (`value`), `in` (`values`) or `between` (`low` and `high`, both included).
    pub op: String,
    /// The value of `eq`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub value: Option<serde_json::Value>,
    /// The values of `in`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub values: Vec<serde_json::Value>,
    /// The lower bound of `between`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub low: Option<serde_json::Value>,
    /// The upper bound of `between`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub high: Option<serde_json::Value>,
}

/// A count asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountRequest {
    /// The criteria, all of which a person meets (on rows of one table, or of several:
    /// persons found in each).
    pub criteria: Vec<Criterion>,
}

/// A count as shown.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FeasibilityCount {
    /// The dataset.
    pub dataset: String,
    /// Persons matching, with noise, rounded, never below zero.
    pub count: u64,
    /// The base it was rounded to.
    pub rounded_to: u64,
    /// The privacy loss this count spent.
    pub epsilon: f64,
    /// The asker's budget on the dataset after it.
    pub budget: Budget,
    /// What the number is, in a sentence.
    pub note: String,
}

/// What may be counted on a dataset, and the caller's budget there.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FeasibilityTerms {
    /// The dataset.
    pub dataset: String,
    /// Columns open to criteria, by table.
    pub open: Vec<OpenTable>,
    /// Epsilon one count spends.
    pub epsilon_per_count: f64,
    /// Counts are rounded to a multiple of this.
    pub rounded_to: u64,
    /// The caller's budget on the dataset.
    pub budget: Budget,
}

impl Hub {
    /// What may be counted on `dataset`, and the caller's budget there.
    pub async fn feasibility_terms(
        &self,
        caller: &Caller,
        dataset: &DatasetName,
    ) -> Result<FeasibilityTerms> {
        let read = async {
            let principal = caller.authenticated()?;
            principal.unbound()?;
            let feasibility = Feasibility::new(&self.meta);
            let settings = self.settings.feasibility;
            Ok::<_, Error>(FeasibilityTerms {
                dataset: dataset.to_string(),
                open: feasibility.open_tables(dataset).await?,
                epsilon_per_count: settings.epsilon_per_count,
                rounded_to: settings.round_to,
                budget: feasibility
                    .budget(principal, dataset, settings.budget_per_dataset)
                    .await?,
            })
        };
        self.refusal_audited(
            caller,
            Action::FeasibilityRead,
            About::object(dataset),
            read.await,
        )
        .await
    }

    /// Opens `tables`' columns of `dataset` to feasibility counts, replacing what was
    /// open (a steward).
    pub async fn open_to_feasibility(
        &self,
        caller: &Caller,
        dataset: &DatasetName,
        tables: Vec<OpenTable>,
    ) -> Result<Vec<OpenTable>> {
        let declared = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(
                Feasibility::new(&self.meta)
                    .declare(principal, dataset, tables, now())
                    .await?,
            )
        };
        self.audited(
            caller,
            Action::FeasibilityOpened,
            About::object(dataset),
            declared.await,
            |open, e| {
                let columns: Vec<String> = open
                    .iter()
                    .flat_map(|t| t.columns.iter().map(move |c| format!("{}.{c}", t.name)))
                    .collect();
                e.detail("columns", columns.join(" "))
            },
        )
        .await
    }

    /// Counts the persons meeting `request`'s criteria in `dataset`, with noise, and
    /// charges the caller's privacy budget for it; refused, with nothing charged, when
    /// the budget would go past its total.
    pub async fn feasibility_count(
        self: &Arc<Self>,
        caller: &Caller,
        dataset: &DatasetName,
        request: CountRequest,
    ) -> Result<FeasibilityCount> {
        let asked: Vec<String> = request
            .criteria
            .iter()
            .map(|c| format!("{}.{} {}", c.table, c.column, c.op))
            .collect();
        let counted = async {
            let principal = caller.authenticated()?;
            let settings = self.settings.feasibility;
            let feasibility = Feasibility::new(&self.meta);
            let (scope, persons) = feasibility.scope(principal, dataset, now()).await?;
            let types = self.column_types(dataset).await?;
            let sql = count_sql(&request.criteria, &scope_columns(&scope), &persons, &types)?;
            let ticket = self
                .queries
                .admission
                .admit(principal.name())
                .map_err(|busy| refused(busy.to_string()))?;
            // Charged before the count runs: a count that fails, or runs out of time or
            // memory, is paid for like one that answers (its failure could tell).
            let epsilon = settings.epsilon_per_count;
            let budget = feasibility
                .spend(
                    principal,
                    dataset,
                    epsilon,
                    settings.budget_per_dataset,
                    now(),
                )
                .await?;
            let exact = self.exact_count(ticket, scope, &sql).await?;
            let noisy = bastide_sdc::noisy_count(exact, epsilon, settings.round_to)
                .map_err(|e| Error::Internal(format!("feasibility noise: {e}")))?;
            if noisy.epsilon > epsilon * (1.0 + 1e-9) {
                return Err(Error::Internal(format!(
                    "the noise spent epsilon {} where {epsilon} was charged",
                    noisy.epsilon
                )));
            }
            Ok::<_, Error>(FeasibilityCount {
                dataset: dataset.to_string(),
                count: noisy.value,
                rounded_to: noisy.rounded_to,
                epsilon: noisy.epsilon,
                note: format!(
                    "about {} persons: random noise was added (differential privacy, epsilon {:.2}) and the result rounded to a multiple of {}; {:.2} of your budget of {:.2} on this dataset is left",
                    noisy.value, noisy.epsilon, noisy.rounded_to, budget.left, budget.total
                ),
                budget,
            })
        };
        self.audited(
            caller,
            Action::FeasibilityCounted,
            About::object(dataset),
            counted.await,
            |c, e| {
                e.detail("criteria", asked.join(", "))
                    .detail("epsilon", c.epsilon)
                    .detail("spent", c.budget.spent)
            },
        )
        .await
    }

    /// The Table Schema type of every column of `dataset`: (table, column) → type.
    async fn column_types(
        &self,
        dataset: &str,
    ) -> Result<std::collections::BTreeMap<(String, String), String>> {
        let mut types = std::collections::BTreeMap::new();
        for table in self.meta.datasets().tables(dataset).await? {
            let schema: serde_json::Value =
                serde_json::from_str(&table.schema_json).unwrap_or_default();
            for field in schema["fields"].as_array().into_iter().flatten() {
                if let Some(name) = field["name"].as_str() {
                    let kind = field["type"].as_str().unwrap_or("string").to_owned();
                    types.insert((table.name.clone(), name.to_owned()), kind);
                }
            }
        }
        Ok(types)
    }

    /// Runs the count `sql` in the workspace of `scope`, under the hub's limits and
    /// the per-user cap of queries; its one number never leaves the hub as it is.
    async fn exact_count(
        self: &Arc<Self>,
        ticket: bastide_query::Ticket,
        scope: bastide_access::PermitScope,
        sql: &str,
    ) -> Result<u64> {
        // The query is the hub's own: what the asker can act on is a dataset without
        // data, a limit reached, or a busy hub; anything else is the hub's failure.
        let failed = |f: QueryFailure| match f {
            QueryFailure::Hub(e) => e,
            QueryFailure::Query(
                e @ (bastide_query::Error::Invalid { .. }
                | bastide_query::Error::TimedOut { .. }
                | bastide_query::Error::OutOfMemory { .. }
                | bastide_query::Error::HubBusy
                | bastide_query::Error::Busy { .. }),
            ) => refused(format!("the count could not be made: {e}")),
            other => Error::Internal(format!("a feasibility count failed: {other}")),
        };
        let checked = bastide_query::check(sql).map_err(|e| failed(e.into()))?;
        let named: BTreeSet<String> = checked.relations().clone();
        let opt_outs = self.opt_outs().await.map_err(failed)?;
        let workspace = self
            .workspace(scope, Some(&named), opt_outs)
            .await
            .map_err(failed)?;
        let cancel = bastide_query::CancellationToken::new();
        // A count is a small question: it gets a minute at most.
        let mut limits = self.limits();
        limits.time = limits.time.min(std::time::Duration::from_secs(60));
        let answer = workspace
            .run(
                &checked,
                &ParamValues::List(Vec::new()),
                &limits,
                &cancel,
                ticket,
            )
            .await
            .map_err(|e| failed(e.into()))?;
        let count = answer
            .batches
            .first()
            .filter(|b| b.num_rows() == 1)
            .and_then(|b| b.column(0).as_primitive_opt::<Int64Type>().cloned())
            .filter(|c| !c.is_null(0))
            .map(|c| c.value(0))
            .ok_or_else(|| Error::Internal("a feasibility count answered no number".into()))?;
        Ok(count.max(0) as u64)
    }
}

/// The open columns of each table of `scope` (person column included).
fn scope_columns(
    scope: &bastide_access::PermitScope,
) -> std::collections::BTreeMap<String, Vec<String>> {
    scope
        .tables()
        .iter()
        .map(|t| (t.name.clone(), t.columns.clone()))
        .collect()
}

/// The query counting the persons meeting every criterion: per table, the persons of
/// its rows meeting that table's criteria; across tables, the persons in each.
fn count_sql(
    criteria: &[Criterion],
    open: &std::collections::BTreeMap<String, Vec<String>>,
    persons: &PersonColumns,
    types: &std::collections::BTreeMap<(String, String), String>,
) -> Result<String> {
    if criteria.is_empty() || criteria.len() > MAX_CRITERIA {
        return Err(invalid(format!(
            "give 1 to {MAX_CRITERIA} criteria (table, column, op and values)"
        )));
    }
    let mut by_table: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for c in criteria {
        let person = persons.get(&c.table);
        let opened = open
            .get(&c.table)
            .is_some_and(|cols| cols.contains(&c.column) && person != Some(&c.column));
        if !opened {
            return Err(invalid(format!(
                "{}.{} is not open to feasibility counts (see the dataset's open columns)",
                c.table, c.column
            )));
        }
        let kind = types
            .get(&(c.table.clone(), c.column.clone()))
            .map_or("string", String::as_str);
        let column = quoted(&c.column.to_lowercase());
        let lit = |v: &Option<serde_json::Value>, what: &str| {
            v.as_ref()
                .ok_or_else(|| invalid(format!("{}.{}: give `{what}`", c.table, c.column)))
                .and_then(|v| literal(v, kind, &c.column))
        };
        let condition = match c.op.as_str() {
            "eq" => format!("{column} = {}", lit(&c.value, "value")?),
            "between" => format!(
                "{column} BETWEEN {} AND {}",
                lit(&c.low, "low")?,
                lit(&c.high, "high")?
            ),
            "in" => {
                if c.values.is_empty() || c.values.len() > MAX_VALUES {
                    return Err(invalid(format!(
                        "{}.{}: `in` takes 1 to {MAX_VALUES} values",
                        c.table, c.column
                    )));
                }
                let values = c
                    .values
                    .iter()
                    .map(|v| literal(v, kind, &c.column))
                    .collect::<Result<Vec<_>>>()?;
                format!("{column} IN ({})", values.join(", "))
            }
            _ => {
                return Err(invalid(format!(
                    "{}.{}: op is `eq`, `in` or `between`",
                    c.table, c.column
                )));
            }
        };
        by_table
            .entry(c.table.as_str())
            .or_default()
            .push(condition);
    }
    let selects: Vec<String> = by_table
        .iter()
        .map(|(table, conditions)| {
            format!(
                "SELECT DISTINCT {person} AS person FROM {} WHERE {person} IS NOT NULL AND {}",
                quoted(&table.to_lowercase()),
                conditions.join(" AND "),
                person = quoted(&persons[*table].to_lowercase()),
            )
        })
        .collect();
    Ok(format!(
        "SELECT count(*) AS n FROM ({}) AS persons",
        selects.join(" INTERSECT ")
    ))
}

/// A criterion's value as an SQL literal of the column's type.
fn literal(value: &serde_json::Value, kind: &str, column: &str) -> Result<String> {
    let wrong = |expected: &str| invalid(format!("{column}: expected {expected}"));
    Ok(match kind {
        "integer" | "year" => value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| wrong("an integer"))?
            .to_string(),
        "number" => {
            let n = value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| wrong("a number"))?;
            format!("{n:?}")
        }
        "boolean" => value
            .as_bool()
            .ok_or_else(|| wrong("true or false"))?
            .to_string(),
        "date" => {
            let text = value.as_str().ok_or_else(|| wrong("a date YYYY-MM-DD"))?;
            let ok = text.len() == 10
                && text.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if !ok {
                return Err(wrong("a date YYYY-MM-DD"));
            }
            format!("DATE '{text}'")
        }
        _ => {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return Err(wrong("a text")),
            };
            if text.chars().count() > 200 || text.chars().any(char::is_control) {
                return Err(wrong("a text of at most 200 characters"));
            }
            format!("'{}'", text.replace('\'', "''"))
        }
    })
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn invalid(problem: String) -> Error {
    bastide_access::Error::Invalid {
        field: "criteria",
        problem,
    }
    .into()
}

fn refused(message: String) -> Error {
    bastide_access::Error::Refused(message).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criterion(column: &str, op: &str, value: serde_json::Value) -> Criterion {
        Criterion {
            table: "IR_BEN_R".into(),
            column: column.into(),
            op: op.into(),
            value: Some(value.clone()),
            values: value.as_array().cloned().unwrap_or_default(),
            low: Some(serde_json::json!(1950)),
            high: Some(serde_json::json!(1960)),
        }
    }

    #[test]
    fn criteria_become_typed_literals_on_open_columns_only() {
        let open = [(
            "IR_BEN_R".to_owned(),
            vec![
                "BEN_NIR_PSA".to_owned(),
                "BEN_SEX_COD".to_owned(),
                "BEN_RES_DPT".to_owned(),
                "BEN_NAI_ANN".to_owned(),
            ],
        )]
        .into();
        let persons = [("IR_BEN_R".to_owned(), "BEN_NIR_PSA".to_owned())].into();
        let types = [
            (
                ("IR_BEN_R".to_owned(), "BEN_SEX_COD".to_owned()),
                "integer".to_owned(),
            ),
            (
                ("IR_BEN_R".to_owned(), "BEN_NAI_ANN".to_owned()),
                "year".to_owned(),
            ),
        ]
        .into();
        let sql = count_sql(
            &[
                criterion("BEN_SEX_COD", "eq", serde_json::json!("2")),
                criterion("BEN_RES_DPT", "in", serde_json::json!(["01", "O'B"])),
                criterion("BEN_NAI_ANN", "between", serde_json::Value::Null),
            ],
            &open,
            &persons,
            &types,
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT count(*) AS n FROM (SELECT DISTINCT \"ben_nir_psa\" AS person FROM \"ir_ben_r\" WHERE \"ben_nir_psa\" IS NOT NULL AND \"ben_sex_cod\" = 2 AND \"ben_res_dpt\" IN ('01', 'O''B') AND \"ben_nai_ann\" BETWEEN 1950 AND 1960) AS persons"
        );
        for bad in [
            criterion("BEN_NIR_PSA", "eq", serde_json::json!("x")),
            criterion("BEN_DCD_DTE", "eq", serde_json::json!("x")),
            criterion("BEN_SEX_COD", "eq", serde_json::json!("two")),
            criterion("BEN_SEX_COD", "like", serde_json::json!(1)),
        ] {
            assert!(
                count_sql(std::slice::from_ref(&bad), &open, &persons, &types).is_err(),
                "{bad:?}"
            );
        }
        assert!(count_sql(&[], &open, &persons, &types).is_err());
    }
}
