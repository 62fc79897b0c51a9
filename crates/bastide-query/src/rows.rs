//! The rows a permit lets through, table by table, as private plans: a table's own
//! filters and opt-outs, then what it owes to the rows it belongs to.
//!
//! A table whose rows reach their person only through links (a stay's summary through
//! the table naming its person, a drug line through its claim) loses the rows of people
//! who objected by an anti-join with the linked rows of those people: nothing to do
//! while the register is empty, little to join when it is not. Where the permit
//! narrows a table its rows belong to (a filter on the person's year of birth), a
//! semi-join keeps the rows linked to a permitted row instead. Links come with the
//! permit ([`bastide_access::PersonPaths`]); `visited` keeps a walk from following a
//! link back to a table it is already reading.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use bastide_access::{Filter, Link, PermitScope, PersonPath, Scalar};
use bastide_store::DatasetStore;
use bastide_store::manifest::Manifest;
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::common::{Column, JoinType, TableReference};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::type_coercion::binary::comparison_coercion;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, ScalarUDF, cast, col, lit};

use crate::disclosure::key::link_key;
use crate::error::internal;
use crate::{Error, Result};

/// The column a private plan adds, under an aggregate-only permit, for the person
/// each row is about: the key of their hub pseudonym ([`crate::disclosure::key`]).
pub(crate) const PERSON: &str = "__bastide_person";

/// The column of a link's key in the plans that find each key's person.
const LINK: &str = "__bastide_link";

/// The column of a row's own link key, joined with [`LINK`].
const HERE: &str = "__bastide_link_here";

/// Plans of permitted rows over a dataset version's stored tables.
pub(crate) struct Rows<'a> {
    manifest: &'a Manifest,
    scope: &'a PermitScope,
    /// `not_opted_out`, None while the register is empty.
    opted_in: Option<&'a Arc<ScalarUDF>>,
    /// The project's `person_key` ([`crate::disclosure::key`]).
    person_key: &'a Arc<ScalarUDF>,
    stored: HashMap<String, Arc<dyn TableProvider>>,
}

impl<'a> Rows<'a> {
    /// Opens the stored tables the rows of `table` may depend on.
    pub async fn load(
        store: &DatasetStore,
        manifest: &'a Manifest,
        scope: &'a PermitScope,
        table: &str,
        opted_in: Option<&'a Arc<ScalarUDF>>,
        person_key: &'a Arc<ScalarUDF>,
    ) -> Result<Self> {
        let people = scope.people();
        let mut names: BTreeSet<&str> = BTreeSet::from([table]);
        for path in people.paths.values() {
            if let PersonPath::Linked { links } = path {
                names.extend(links.iter().map(|l| l.to.as_str()));
            }
        }
        names.extend(
            people
                .links
                .iter()
                .flat_map(|l| [l.table.as_str(), l.to.as_str()]),
        );
        let mut stored = HashMap::new();
        for name in names {
            if manifest.table(name).is_some() {
                stored.insert(name.to_owned(), store.table(manifest, name).await?);
            }
        }
        Ok(Self {
            manifest,
            scope,
            opted_in,
            person_key,
            stored,
        })
    }

    /// The rows of `name` that may be seen, all its columns. `chain` is the rest of a
    /// person path that led here (empty: the permit's own path for `name`).
    pub fn of(&self, name: &str, chain: &[Link], visited: &mut Vec<String>) -> Result<LogicalPlan> {
        let identifiers = &self.stored_table(name)?.identifiers;
        let permitted = self.scope.tables().iter().find(|t| t.name == name);
        let mut rows = self.scan(name)?;
        for filter in permitted.iter().flat_map(|t| &t.filters) {
            rows = rows.filter(predicate(filter)).map_err(internal)?;
        }
        if let Some(opted_in) = self.opted_in {
            for column in identifiers {
                rows = rows
                    .filter(opted_in.call(vec![col(quoted(column))]))
                    .map_err(internal)?;
            }
        }
        let path = match chain.split_first() {
            Some(step) => Some(step),
            None if permitted.is_none() => None,
            None => match self.scope.people().paths.get(name) {
                Some(PersonPath::Linked { links }) => links.split_first(),
                Some(PersonPath::Own | PersonPath::NonPersonal) => None,
                None if identifiers.is_empty() => {
                    return Err(Error::Invalid {
                        message: format!(
                            "the permit was granted before Bastide traced how rows of {name} reach their person; ask a steward to grant it again"
                        ),
                    });
                }
                None => None,
            },
        };
        visited.push(name.to_owned());
        if let Some((link, rest)) = path {
            if !self.holds_data(link, rest) {
                // The tables its rows belong to hold no data yet: none is linked to
                // a person, and none may be seen.
                rows = rows.filter(lit(false)).map_err(internal)?;
            } else if self.narrows(link, rest, visited) {
                let linked = self.linked(link, |to| self.of(to, rest, visited))?;
                rows = join(rows, name, link, linked, JoinType::LeftSemi, "linked")?;
            } else if self.opted_in.is_some() {
                let objected = self.linked(link, |to| self.objected(to, rest))?;
                rows = join(rows, name, link, objected, JoinType::LeftAnti, "linked")?;
            }
        }
        for link in &self.scope.people().links {
            let on_path = path.is_some_and(|(l, _)| l == link);
            if link.table == name
                && !on_path
                && !visited.contains(&link.to)
                && self.stored.contains_key(&link.to)
                && self.narrowed(&link.to, visited)
            {
                let linked = self.linked(link, |to| self.of(to, &[], visited))?;
                rows = join(rows, name, link, linked, JoinType::LeftSemi, "linked")?;
            }
        }
        visited.pop();
        rows.build().map_err(internal)
    }

    /// `rows` of `name` (all its columns) with the person each is about last, as
    /// [`PERSON`], and the column of `name` that holds the same value if one does;
    /// none when its rows are about no one. A table's person is its first identifier
    /// column, or that of the table its links reach.
    pub fn with_person(
        &self,
        name: &str,
        rows: LogicalPlan,
    ) -> Result<Option<(LogicalPlan, Option<String>)>> {
        let columns: Vec<Expr> = rows
            .schema()
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect();
        if let Some(own) = self.person_column(name)? {
            let plan = LogicalPlanBuilder::from(rows)
                .project(
                    columns
                        .into_iter()
                        .chain([self.person_key.call(vec![col(quoted(&own))]).alias(PERSON)]),
                )
                .and_then(LogicalPlanBuilder::build)
                .map_err(internal)?;
            return Ok(Some((plan, Some(own))));
        }
        let Some(PersonPath::Linked { links }) = self.scope.people().paths.get(name) else {
            return Ok(None);
        };
        let Some((link, rest)) = links.split_first() else {
            return Ok(None);
        };
        let person = Column::new(Some(TableReference::bare("persons0")), PERSON);
        let plan = if self.holds_data(link, rest) {
            let persons = self.persons_along(links, 0)?;
            self.join_persons(LogicalPlanBuilder::from(rows), link, persons, "persons0")?
                .project(
                    columns
                        .into_iter()
                        .chain([Expr::Column(person).alias(PERSON)]),
                )
        } else {
            // No row can be seen (see `of`): no one to name.
            LogicalPlanBuilder::from(rows).project(
                columns
                    .into_iter()
                    .chain([lit(datafusion::common::ScalarValue::UInt64(None)).alias(PERSON)]),
            )
        };
        let plan = plan.and_then(LogicalPlanBuilder::build).map_err(internal)?;
        Ok(Some((plan, None)))
    }

    /// The person of each key `links[0]` reaches: the key's [`link_key`] as [`LINK`]
    /// and [`PERSON`], one row per key whatever the data (a key shared by rows of
    /// several people names no one), aliased `persons{depth}`.
    fn persons_along(&self, links: &[Link], depth: usize) -> Result<LogicalPlan> {
        let (link, rest) = links
            .split_first()
            .ok_or_else(|| Error::Internal("a person path without links".into()))?;
        let target = self.scan(&link.to)?;
        let (_, key) = self.link_keys(link)?;
        let with_person = match rest.first() {
            None => {
                let own = self
                    .person_column(&link.to)?
                    .ok_or_else(|| Error::Internal(format!("{} names no person", link.to)))?;
                target.project([
                    key.alias(LINK),
                    self.person_key.call(vec![col(quoted(&own))]).alias(PERSON),
                ])
            }
            Some(next_link) => {
                let next = format!("persons{}", depth + 1);
                let persons = self.persons_along(rest, depth + 1)?;
                self.join_persons(target, next_link, persons, &next)?
                    .project([
                        key.alias(LINK),
                        Expr::Column(Column::new(Some(TableReference::bare(next)), PERSON))
                            .alias(PERSON),
                    ])
            }
        };
        with_person
            .and_then(|b| {
                // A key shared by rows of several persons names no one (NULL: a
                // record of no one, never counted as a person).
                let min = || datafusion::functions_aggregate::min_max::min(col(PERSON));
                let max = datafusion::functions_aggregate::min_max::max(col(PERSON));
                b.aggregate(
                    [col(LINK)],
                    [datafusion::logical_expr::when(min().eq(max), min())
                        .end()?
                        .alias(PERSON)],
                )
            })
            .and_then(|b| b.alias(format!("persons{depth}")))
            .and_then(LogicalPlanBuilder::build)
            .map_err(internal)
    }

    /// `rows` (of `link.table`) left-joined with the `persons` of the keys `link`
    /// reaches (from [`Rows::persons_along`]), aliased `alias`.
    fn join_persons(
        &self,
        rows: LogicalPlanBuilder,
        link: &Link,
        persons: LogicalPlan,
        alias: &str,
    ) -> Result<LogicalPlanBuilder> {
        let (here, _) = self.link_keys(link)?;
        // The key computed before the join, so that the link's columns (nine for a
        // claim) need not be held in the join's table.
        let columns = rows.schema().columns().into_iter().map(Expr::Column);
        let keyed = rows
            .project(columns.chain([here.alias(HERE)]))
            .map_err(internal)?;
        let there = Column::new(Some(TableReference::bare(alias)), LINK);
        keyed
            .join(
                persons,
                JoinType::Left,
                (vec![Column::from_name(HERE)], vec![there]),
                None,
            )
            .map_err(internal)
    }

    /// The [`link_key`] of `link`'s columns in its table's rows and of its target's
    /// columns (each qualified by its table's name), each pair compared in the type
    /// an equality between them takes.
    fn link_keys(&self, link: &Link) -> Result<(Expr, Expr)> {
        let from = self.stored_provider(&link.table)?.schema();
        let to = self.stored_provider(&link.to)?.schema();
        let mut here = Vec::with_capacity(link.columns.len());
        let mut there = Vec::with_capacity(link.columns.len());
        for (a, b) in link.columns.iter().zip(&link.to_columns) {
            let field = |schema: &datafusion::arrow::datatypes::Schema, c: &str| {
                schema
                    .field_with_name(c)
                    .map(|f| f.data_type().clone())
                    .map_err(|e| internal(e.into()))
            };
            let (ta, tb) = (field(&from, a)?, field(&to, b)?);
            let common = comparison_coercion(&ta, &tb).ok_or_else(|| Error::Invalid {
                message: format!(
                    "{}.{a} ({ta}) cannot be compared with {}.{b} ({tb}), which its Table Schema says it references; correct one of the two types",
                    link.table, link.to
                ),
            })?;
            let typed = |e: Expr, t: &DataType| {
                if *t == common {
                    e
                } else {
                    cast(e, common.clone())
                }
            };
            here.push(typed(
                Expr::Column(Column::new(
                    Some(TableReference::bare(link.table.as_str())),
                    a,
                )),
                &ta,
            ));
            there.push(typed(
                Expr::Column(Column::new(Some(TableReference::bare(link.to.as_str())), b)),
                &tb,
            ));
        }
        Ok((link_key(here), link_key(there)))
    }

    /// The first identifier column of `name`, in the order of its columns.
    fn person_column(&self, name: &str) -> Result<Option<String>> {
        let table = self.stored_table(name)?;
        Ok(table
            .columns
            .iter()
            .find(|c| table.identifiers.contains(&c.name))
            .map(|c| c.name.clone()))
    }

    /// The rows of `name` whose person objected, along `chain`.
    fn objected(&self, name: &str, chain: &[Link]) -> Result<LogicalPlan> {
        let opted_in = self
            .opted_in
            .expect("objections are looked for with a register");
        let mut rows = self.scan(name)?;
        match chain.split_first() {
            None => {
                let objected = self
                    .stored_table(name)?
                    .identifiers
                    .iter()
                    .map(|c| !opted_in.call(vec![col(quoted(c))]))
                    .reduce(Expr::or)
                    .unwrap_or_else(|| lit(false));
                rows = rows.filter(objected).map_err(internal)?;
            }
            Some((link, rest)) => {
                let objected = self.linked(link, |to| self.objected(to, rest))?;
                rows = join(rows, name, link, objected, JoinType::LeftSemi, "linked")?;
            }
        }
        rows.build().map_err(internal)
    }

    /// The key columns of `link`'s target from the rows `rows_of` plans for it.
    fn linked(
        &self,
        link: &Link,
        rows_of: impl FnOnce(&str) -> Result<LogicalPlan>,
    ) -> Result<LogicalPlan> {
        LogicalPlanBuilder::from(rows_of(&link.to)?)
            .project(link.to_columns.iter().map(|c| col(quoted(c))))
            .and_then(|b| b.alias("linked"))
            .and_then(LogicalPlanBuilder::build)
            .map_err(internal)
    }

    /// Whether every table along `link` and `rest` holds data.
    fn holds_data(&self, link: &Link, rest: &[Link]) -> bool {
        std::iter::once(link)
            .chain(rest)
            .all(|l| self.stored.contains_key(&l.to))
    }

    /// Whether a row must be linked to a permitted row along `link` and `rest`: the
    /// permit narrows a table on the way.
    fn narrows(&self, link: &Link, rest: &[Link], visited: &[String]) -> bool {
        std::iter::once(link)
            .chain(rest)
            .any(|l| self.narrowed(&l.to, visited))
    }

    /// Whether the permit narrows the rows of `table`: its filters, or those of a
    /// table its rows belong to.
    fn narrowed(&self, table: &str, visited: &[String]) -> bool {
        let filtered = self
            .scope
            .tables()
            .iter()
            .any(|t| t.name == table && !t.filters.is_empty());
        filtered
            || self.scope.people().links.iter().any(|l| {
                l.table == table
                    && l.to != table
                    && !visited.contains(&l.to)
                    && self.narrowed(&l.to, &[visited, &[table.to_owned()]].concat())
            })
    }

    fn scan(&self, name: &str) -> Result<LogicalPlanBuilder> {
        LogicalPlanBuilder::scan(
            TableReference::bare(name),
            provider_as_source(self.stored_provider(name)?),
            None,
        )
        .map_err(internal)
    }

    fn stored_provider(&self, name: &str) -> Result<Arc<dyn TableProvider>> {
        self.stored
            .get(name)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("table {name} is not loaded")))
    }

    fn stored_table(&self, name: &str) -> Result<&bastide_store::manifest::TableManifest> {
        self.manifest
            .table(name)
            .ok_or_else(|| Error::Internal(format!("table {name} has no data")))
    }
}

/// `rows` of `name` joined (`how`) on `link` with `linked` rows, aliased `alias`.
fn join(
    rows: LogicalPlanBuilder,
    name: &str,
    link: &Link,
    linked: LogicalPlan,
    how: JoinType,
    alias: &str,
) -> Result<LogicalPlanBuilder> {
    let here: Vec<Column> = link
        .columns
        .iter()
        .map(|c| Column::new(Some(TableReference::bare(name)), c))
        .collect();
    let there: Vec<Column> = link
        .to_columns
        .iter()
        .map(|c| Column::new(Some(TableReference::bare(alias)), c))
        .collect();
    rows.join(linked, how, (here, there), None)
        .map_err(internal)
}

/// The permit filter as an expression.
fn predicate(filter: &Filter) -> Expr {
    match filter {
        Filter::Between { column, low, high } => {
            col(quoted(column)).between(scalar(low), scalar(high))
        }
        Filter::In { column, values } => {
            col(quoted(column)).in_list(values.iter().map(scalar).collect(), false)
        }
        Filter::Equals { column, value } => col(quoted(column)).eq(scalar(value)),
    }
}

fn scalar(value: &Scalar) -> Expr {
    match value {
        Scalar::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => lit(*n as i64),
        Scalar::Number(n) => lit(*n),
        Scalar::Text(t) => lit(t.clone()),
    }
}

/// A column name as `col` takes it without folding its case.
pub(crate) fn quoted(column: &str) -> String {
    format!("\"{}\"", column.replace('"', "\"\""))
}
