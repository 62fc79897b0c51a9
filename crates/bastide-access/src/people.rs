//! How the rows of each table reach their person. An opt-out removes a person's rows
//! from every view, and a permit's filter on a person's attributes narrows every table
//! about them: both need, for each table, the way from a row to its person.
//!
//! A table names its person when it has identifier columns. Otherwise it reaches one
//! through links taken from the Table Schemas: a foreign key from this table to a data
//! table (each row belongs to the one row it references: a drug line to its claim), or a
//! foreign key into this table's primary key from a table whose own primary key it
//! covers (one row each side: a stay's summary `T_MCOaaB` and its identifiers
//! `T_MCOaaC`). A table is about no one only when declared so: a nomenclature, or a
//! Table Schema with `"bastide:personal": false`. A permit on a table with none of these
//! is refused ([`PersonPaths::compute`] says why), since its rows could not be taken
//! out when their person objects.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

/// A link from the rows of one table to the rows of another: `table.columns` equal
/// `to.to_columns`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Link {
    /// The table the rows are in.
    pub table: String,
    /// Its columns.
    pub columns: Vec<String>,
    /// The table they reach.
    pub to: String,
    /// Its columns.
    pub to_columns: Vec<String>,
}

/// How a table's rows reach their person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PersonPath {
    /// The table's identifier columns name the person.
    Own,
    /// Through these links, the last reaching a table with identifier columns.
    Linked {
        /// From this table onwards.
        links: Vec<Link>,
    },
    /// Declared about no one (a nomenclature, or `"bastide:personal": false`).
    NonPersonal,
}

/// The person paths of a permit's tables, and the links between data tables that
/// carry filters on one to the rows of the other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PersonPaths {
    /// Each permitted table's path.
    pub paths: BTreeMap<String, PersonPath>,
    /// Links from a row to the row it belongs to (every foreign key between the
    /// dataset's data tables).
    pub links: Vec<Link>,
    /// The primary key of each permitted table that declares one. Under an
    /// aggregate-only permit, rows about persons look a table about no one up on all
    /// of its key's columns only, and join rows about other persons on the person or
    /// on the other side's key: each row then finds one row at most (or only its own
    /// person's), and a join cannot count one person's rows more times than
    /// another's as the data chooses. Empty in permits granted before it was recorded
    /// (their lookups are refused until granted again).
    #[serde(default)]
    pub keys: BTreeMap<String, Vec<String>>,
    /// The columns of each permitted table about persons whose numbers are
    /// quantities (see [`TableFacts::quantities`]): under an aggregate-only permit,
    /// sums and means are judged on them only. Empty in permits granted before it
    /// was recorded (their sums are withheld until granted again).
    #[serde(default)]
    pub quantities: BTreeMap<String, Vec<String>>,
}

/// What the paths are computed from: one table of a dataset.
#[derive(Debug, Clone)]
pub struct TableFacts {
    /// Its name.
    pub name: String,
    /// Its identifier columns.
    pub identifiers: Vec<String>,
    /// A nomenclature, or declared non-personal.
    pub non_personal: bool,
    /// Its primary key.
    pub primary_key: Vec<String>,
    /// Its foreign keys: (columns, table, its columns).
    pub foreign_keys: Vec<(Vec<String>, String, Vec<String>)>,
    /// Its columns whose numbers are quantities (amounts, counts, durations): of
    /// type `number` or `integer`, in no key, listing no allowed values. Other
    /// numbers are codes (`BEN_SEX_COD`, a foreign key to its nomenclature), years
    /// or row numbers: summed beside a count, a code with two values counts the rows
    /// of each (`2 × count(*) − sum(sex)` is the men's), so a sum of them is never
    /// judged as a magnitude.
    pub quantities: Vec<String>,
}

impl TableFacts {
    /// The facts of table `name` from its Table Schema (JSON), identifier columns and
    /// whether it is a nomenclature.
    pub fn from_schema(name: &str, schema: &Json, identifiers: &[String], reference: bool) -> Self {
        let foreign_keys: Vec<(Vec<String>, String, Vec<String>)> = schema["foreignKeys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter_map(|key| {
                        let to = key["reference"]["resource"].as_str()?;
                        // An empty resource is the table itself (a hierarchy).
                        let to = if to.is_empty() { name } else { to };
                        Some((
                            names(&key["fields"]),
                            to.to_owned(),
                            names(&key["reference"]["fields"]),
                        ))
                    })
                    .filter(|(from, _, to)| !from.is_empty() && from.len() == to.len())
                    .collect()
            })
            .unwrap_or_default();
        let primary_key = names(&schema["primaryKey"]);
        let keyed = |name: &str| {
            primary_key.iter().any(|k| k == name)
                || foreign_keys
                    .iter()
                    .any(|(columns, _, _)| columns.iter().any(|c| c == name))
        };
        let quantities = schema["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| matches!(f["type"].as_str(), Some("number" | "integer")))
            .filter(|f| f["constraints"]["enum"].is_null())
            .filter_map(|f| f["name"].as_str())
            .filter(|name| !keyed(name) && !identifiers.iter().any(|i| i == name))
            .map(str::to_owned)
            .collect();
        Self {
            name: name.to_owned(),
            identifiers: identifiers.to_vec(),
            non_personal: reference || schema["bastide:personal"] == Json::Bool(false),
            primary_key,
            foreign_keys,
            quantities,
        }
    }
}

/// A field list as Table Schema writes it: a name or an array of names.
fn names(value: &Json) -> Vec<String> {
    match value {
        Json::String(name) => vec![name.clone()],
        Json::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

impl PersonPaths {
    /// The paths of `permitted` tables among a dataset's `tables`, or the first table
    /// that has none, with the reason.
    pub fn compute(tables: &[TableFacts], permitted: &[&str]) -> Result<Self, String> {
        let by_name: BTreeMap<&str, &TableFacts> =
            tables.iter().map(|t| (t.name.as_str(), t)).collect();
        let person_level = |name: &str| by_name.get(name).is_some_and(|t| !t.non_personal);
        // Forward links between data tables (a row belongs to the row it references).
        let forward: Vec<Link> = tables
            .iter()
            .filter(|t| !t.non_personal)
            .flat_map(|t| {
                t.foreign_keys
                    .iter()
                    .filter(|(_, to, _)| *to != t.name && person_level(to))
                    .map(|(columns, to, to_columns)| Link {
                        table: t.name.clone(),
                        columns: columns.clone(),
                        to: to.clone(),
                        to_columns: to_columns.clone(),
                    })
            })
            .collect();
        // Reverse links: a key into this table's primary key, from a table whose own
        // primary key it covers (one row each side).
        let reverse: Vec<Link> = forward
            .iter()
            .filter(|link| {
                let (from, to) = (by_name[link.table.as_str()], by_name[link.to.as_str()]);
                covers(&link.columns, &from.primary_key)
                    && same_set(&link.to_columns, &to.primary_key)
            })
            .map(|link| Link {
                table: link.to.clone(),
                columns: link.to_columns.clone(),
                to: link.table.clone(),
                to_columns: link.columns.clone(),
            })
            .collect();
        let mut paths = BTreeMap::new();
        let mut keys = BTreeMap::new();
        let mut quantities = BTreeMap::new();
        for &name in permitted {
            let facts = by_name
                .get(name)
                .ok_or_else(|| format!("the dataset has no table {name}"))?;
            if !facts.non_personal {
                quantities.insert(name.to_owned(), facts.quantities.clone());
            }
            if !facts.primary_key.is_empty() {
                keys.insert(name.to_owned(), facts.primary_key.clone());
            }
            let path = if facts.non_personal {
                PersonPath::NonPersonal
            } else if !facts.identifiers.is_empty() {
                PersonPath::Own
            } else {
                let links = shortest(name, &by_name, forward.iter().chain(&reverse))
                    .ok_or_else(|| no_path(name))?;
                PersonPath::Linked { links }
            };
            paths.insert(name.to_owned(), path);
        }
        // Every link between data tables: a filter on a permitted table reaches the
        // rows that belong to its rows through tables the permit does not open too.
        Ok(Self {
            paths,
            links: forward,
            keys,
            quantities,
        })
    }
}

/// The fewest links from `start` to a table with identifier columns.
fn shortest<'a>(
    start: &str,
    tables: &BTreeMap<&str, &TableFacts>,
    links: impl Iterator<Item = &'a Link> + Clone,
) -> Option<Vec<Link>> {
    let mut seen = BTreeSet::from([start.to_owned()]);
    let mut queue = VecDeque::from([(start.to_owned(), Vec::<Link>::new())]);
    while let Some((table, path)) = queue.pop_front() {
        for link in links.clone().filter(|l| l.table == table) {
            if !seen.insert(link.to.clone()) {
                continue;
            }
            let mut path = path.clone();
            path.push(link.clone());
            if tables
                .get(link.to.as_str())
                .is_some_and(|t| !t.identifiers.is_empty())
            {
                return Some(path);
            }
            queue.push_back((link.to.clone(), path));
        }
    }
    None
}

fn covers(columns: &[String], key: &[String]) -> bool {
    !key.is_empty() && key.iter().all(|k| columns.contains(k))
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

fn no_path(table: &str) -> String {
    format!(
        "table {table} holds rows about people but has no identifier column and no link to a table that has one, so opt-outs could not reach its rows: declare the link as a foreignKeys entry of its Table Schema (to the table whose rows its rows belong to), or, if it is about no one, declare it with \"bastide:personal\": false"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(
        name: &str,
        ids: &[&str],
        pk: &[&str],
        fks: &[(&[&str], &str, &[&str])],
    ) -> TableFacts {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        TableFacts {
            name: name.into(),
            identifiers: s(ids),
            non_personal: false,
            primary_key: s(pk),
            foreign_keys: fks
                .iter()
                .map(|(a, t, b)| (s(a), t.to_string(), s(b)))
                .collect(),
            quantities: Vec::new(),
        }
    }

    fn snds() -> Vec<TableFacts> {
        let claim = &["DCT_ORD_NUM", "FLX_EMT_NUM"][..];
        let stay = &["ETA_NUM", "RSA_NUM"][..];
        vec![
            table("IR_BEN_R", &["BEN_NIR_PSA"], &["BEN_NIR_PSA"], &[]),
            table(
                "ER_PRS_F",
                &["BEN_NIR_PSA"],
                claim,
                &[(&["BEN_NIR_PSA"], "IR_BEN_R", &["BEN_NIR_PSA"])],
            ),
            table("ER_PHA_F", &[], &[], &[(claim, "ER_PRS_F", claim)]),
            table(
                "T_MCOaaB",
                &[],
                stay,
                &[(&["ETA_NUM"], "T_MCOaaE", &["ETA_NUM"])],
            ),
            table(
                "T_MCOaaC",
                &["NIR_ANO_17"],
                stay,
                &[
                    (stay, "T_MCOaaB", stay),
                    (&["NIR_ANO_17"], "IR_BEN_R", &["BEN_NIR_PSA"]),
                ],
            ),
            table("T_MCOaaE", &[], &["ETA_NUM"], &[]),
            TableFacts {
                non_personal: true,
                ..table("IR_SEX_V", &[], &["SEX_COD"], &[])
            },
        ]
    }

    #[test]
    fn a_drug_line_reaches_its_person_through_its_claim_and_a_stay_through_its_identifiers() {
        let paths =
            PersonPaths::compute(&snds(), &["ER_PHA_F", "T_MCOaaB", "ER_PRS_F", "IR_SEX_V"])
                .unwrap();
        let via = |t: &str| match &paths.paths[t] {
            PersonPath::Linked { links } => links.iter().map(|l| l.to.clone()).collect::<Vec<_>>(),
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(via("ER_PHA_F"), ["ER_PRS_F"]);
        assert_eq!(via("T_MCOaaB"), ["T_MCOaaC"]);
        assert_eq!(paths.paths["ER_PRS_F"], PersonPath::Own);
        assert_eq!(paths.paths["IR_SEX_V"], PersonPath::NonPersonal);
        assert_eq!(paths.keys["IR_SEX_V"], ["SEX_COD"]);
        assert_eq!(paths.keys["ER_PRS_F"], ["DCT_ORD_NUM", "FLX_EMT_NUM"]);
        // Links between data tables carry filters: drug line to claim, claim to person
        // (though the person's table is not permitted), never to a nomenclature.
        let linked =
            |from: &str, to: &str| paths.links.iter().any(|l| l.table == from && l.to == to);
        assert!(linked("ER_PHA_F", "ER_PRS_F"));
        assert!(linked("ER_PRS_F", "IR_BEN_R"));
        assert!(!paths.links.iter().any(|l| l.to == "IR_SEX_V"));
    }

    #[test]
    fn a_table_many_rows_point_to_is_not_given_their_people_and_is_refused_unless_declared() {
        // Stays reference their establishment: an establishment is not one person's.
        let error = PersonPaths::compute(&snds(), &["T_MCOaaE"]).unwrap_err();
        assert!(
            error.contains("T_MCOaaE") && error.contains("bastide:personal"),
            "{error}"
        );
        let mut tables = snds();
        tables[5].non_personal = true;
        let paths = PersonPaths::compute(&tables, &["T_MCOaaE"]).unwrap();
        assert_eq!(paths.paths["T_MCOaaE"], PersonPath::NonPersonal);
    }

    #[test]
    fn schema_keys_are_read_as_table_schema_writes_them() {
        let schema = serde_json::json!({
            "primaryKey": "ETA_NUM",
            "foreignKeys": [
                {"fields": "ETA_NUM", "reference": {"resource": "T_MCOaaB", "fields": "ETA_NUM"}},
                {"fields": ["A", "B"], "reference": {"resource": "X", "fields": ["A"]}}
            ],
            "bastide:personal": false
        });
        let facts = TableFacts::from_schema("T", &schema, &[], false);
        assert_eq!(facts.primary_key, ["ETA_NUM"]);
        assert_eq!(
            facts.foreign_keys.len(),
            1,
            "a key whose sides differ in length is ignored"
        );
        assert!(facts.non_personal);
    }

    #[test]
    fn quantities_are_numbers_in_no_key_and_without_a_list_of_values() {
        let schema = serde_json::json!({
            "primaryKey": ["NUM"],
            "fields": [
                {"name": "NUM", "type": "integer"},
                {"name": "NIR", "type": "string"},
                {"name": "SEX", "type": "integer"},
                {"name": "BORN", "type": "year"},
                {"name": "TOP", "type": "integer", "constraints": {"enum": [0, 1]}},
                {"name": "QTE", "type": "number"},
                {"name": "DAYS", "type": "integer"}
            ],
            "foreignKeys": [{"fields": "SEX", "reference": {"resource": "IR_SEX_V", "fields": "SEX_COD"}}]
        });
        let facts = TableFacts::from_schema("T", &schema, &["NIR".into()], false);
        assert_eq!(facts.quantities, ["QTE", "DAYS"]);
    }
}
