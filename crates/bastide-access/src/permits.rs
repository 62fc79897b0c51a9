//! Data permits: which tables, columns and rows of a dataset a project's members may
//! see, from when until when, and how (row-level or aggregates only). Filters are typed
//! predicates on columns, never SQL text. A permit is versioned (each grant is a new
//! version) and revocable; it is checked at every use.
//!
//! [`Permits::check`] is the only way to obtain a [`PermitScope`], and the query layer
//! builds a session only from one: there is no path to data without a checked permit.

use std::collections::{BTreeMap, BTreeSet};

use bastide_meta::{MetaStore, PermitRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::people::{PersonPaths, TableFacts};
use crate::projects::{Projects, State, refused};
use crate::{Error, Now, Oversight, Principal, Result, Role};

/// How results may leave the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Rows are shown in the workspace (never downloaded).
    RowLevel,
    /// Only aggregates, through disclosure control.
    AggregateOnly,
}

impl Mode {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RowLevel => "row_level",
            Self::AggregateOnly => "aggregate_only",
        }
    }
}

/// A value in a filter: a number or a text (dates as `YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Scalar {
    /// A number.
    Number(f64),
    /// A text.
    Text(String),
}

/// A row filter: a typed predicate on one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Filter {
    /// `low <= column <= high`.
    Between {
        /// The column.
        column: String,
        /// Lowest value kept.
        low: Scalar,
        /// Highest value kept.
        high: Scalar,
    },
    /// The column is one of `values`.
    In {
        /// The column.
        column: String,
        /// Values kept.
        values: Vec<Scalar>,
    },
    /// The column equals `value`.
    Equals {
        /// The column.
        column: String,
        /// The value kept.
        value: Scalar,
    },
}

impl Filter {
    /// The column it applies to.
    pub fn column(&self) -> &str {
        match self {
            Self::Between { column, .. }
            | Self::In { column, .. }
            | Self::Equals { column, .. } => column,
        }
    }

    fn values(&self) -> Vec<&Scalar> {
        match self {
            Self::Between { low, high, .. } => vec![low, high],
            Self::In { values, .. } => values.iter().collect(),
            Self::Equals { value, .. } => vec![value],
        }
    }
}

/// A table a permit opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermitTable {
    /// The table.
    pub name: String,
    /// Columns visible.
    pub columns: Vec<String>,
    /// Rows visible: all filters hold.
    #[serde(default)]
    pub filters: Vec<Filter>,
}

/// What a steward grants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The dataset.
    pub dataset: String,
    /// Tables, columns and filters.
    pub tables: Vec<PermitTable>,
    /// Members of the project who may use it (login names).
    pub members: Vec<String>,
    /// Valid from (Unix time).
    pub starts_at: i64,
    /// Valid until (Unix time).
    pub expires_at: i64,
    /// Row-level or aggregates only.
    pub mode: Mode,
}

/// A version of a project's permit.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Permit {
    /// The project.
    pub project: String,
    /// Its version.
    pub version: i64,
    /// What it grants.
    pub grant: Grant,
    /// How each permitted table's rows reach their person (computed at the grant).
    pub people: PersonPaths,
    /// Who granted it, when.
    pub granted_by: String,
    /// When.
    pub granted_at: i64,
    /// Who revoked it, when.
    pub revoked_by: Option<String>,
    /// When.
    pub revoked_at: Option<i64>,
}

/// What a checked permit lets its holder see, now. Only [`Permits::check`] makes one
/// (and [`crate::Feasibility::scope`], for the hub's own feasibility counts).
#[derive(Debug, Clone, PartialEq)]
pub struct PermitScope {
    pub(crate) project: String,
    pub(crate) version: i64,
    pub(crate) user: String,
    pub(crate) grant: Grant,
    pub(crate) people: PersonPaths,
}

impl PermitScope {
    /// The project.
    pub fn project(&self) -> &str {
        &self.project
    }
    /// The permit's version.
    pub fn version(&self) -> i64 {
        self.version
    }
    /// The user it was checked for.
    pub fn user(&self) -> &str {
        &self.user
    }
    /// The dataset.
    pub fn dataset(&self) -> &str {
        &self.grant.dataset
    }
    /// Tables, columns and filters.
    pub fn tables(&self) -> &[PermitTable] {
        &self.grant.tables
    }
    /// How results may leave.
    pub fn mode(&self) -> Mode {
        self.grant.mode
    }
    /// Until when it holds.
    pub fn expires_at(&self) -> i64 {
        self.grant.expires_at
    }
    /// How each permitted table's rows reach their person.
    pub fn people(&self) -> &PersonPaths {
        &self.people
    }

    /// The same scope answering as an aggregate-only permit does (every answer an
    /// aggregation, checked before it leaves): what any permit allows for results
    /// that are to leave the workspace. A scope can be narrowed, never widened.
    pub fn aggregate_only(mut self) -> Self {
        self.grant.mode = Mode::AggregateOnly;
        self
    }
}

/// Why a permit does not let someone in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermitDenied {
    /// The project has no live permit.
    #[error("project {0} has no permit in force")]
    NoPermit(String),
    /// Not yet valid.
    #[error("the permit of project {0} starts later")]
    NotYet(String),
    /// Expired.
    #[error("the permit of project {0} has expired")]
    Expired(String),
    /// The user is not among its members.
    #[error("you are not a member of the permit of project {0}")]
    NotMember(String),
    /// The credential is bound to another project.
    #[error("this token is bound to another project than {0}")]
    OtherProject(String),
}

/// The columns of each table of a dataset, and whether each holds numbers.
type Columns = BTreeMap<String, BTreeMap<String, bool>>;

/// The permits of a hub.
#[derive(Debug, Clone, Copy)]
pub struct Permits<'a> {
    meta: &'a MetaStore,
}

impl<'a> Permits<'a> {
    /// The permits kept in `meta`.
    pub fn new(meta: &'a MetaStore) -> Self {
        Self { meta }
    }

    /// Grants a new version of project `id`'s permit (a steward who is not a member;
    /// the project approved or active). Tables and columns must exist; filters must be
    /// consistent; members must be the project's.
    pub async fn grant(
        &self,
        steward: &Principal,
        id: &str,
        grant: Grant,
        now: Now,
    ) -> Result<Permit> {
        if !steward.roles.has(Role::Steward) {
            return Err(refused("granting a permit needs the steward role".into()));
        }
        let projects = Projects::new(self.meta);
        let project = projects.get(steward, id).await?;
        if project.members.contains(&steward.name) {
            return Err(refused(format!(
                "you are a member of project {id}: another steward must grant its permit"
            )));
        }
        if !matches!(project.state, State::Approved | State::Active) {
            return Err(refused(format!(
                "project {id} is {}: permits are granted to approved or active projects",
                project.state.as_str()
            )));
        }
        if grant.expires_at <= grant.starts_at {
            return Err(invalid(
                "expires_at",
                "the permit must expire after it starts".into(),
            ));
        }
        if grant.members.is_empty() {
            return Err(invalid("members", "name at least one member".into()));
        }
        for member in &grant.members {
            if !project.members.contains(member) {
                return Err(invalid(
                    "members",
                    format!("{member} is not a member of project {id}"),
                ));
            }
        }
        let (columns, facts) = self.columns(&grant.dataset).await?;
        check_tables(&grant, &columns)?;
        let permitted: Vec<&str> = grant.tables.iter().map(|t| t.name.as_str()).collect();
        let people = PersonPaths::compute(&facts, &permitted)
            .map_err(|problem| invalid("tables", problem))?;
        let record = PermitRecord {
            project_id: id.to_owned(),
            version: 0,
            dataset: grant.dataset.clone(),
            scope_json: serde_json::to_string(&Stored {
                tables: grant.tables.clone(),
                members: grant.members.clone(),
                people: Some(people.clone()),
            })
            .expect("a grant serialises"),
            mode: grant.mode.as_str().into(),
            starts_at: grant.starts_at,
            expires_at: grant.expires_at,
            granted_by: steward.name.clone(),
            granted_at: now,
            revoked_by: None,
            revoked_at: None,
        };
        let version = self.meta.projects().insert_permit(&record).await?;
        projects.activate(steward, &project, now).await?;
        Ok(Permit {
            project: id.to_owned(),
            version,
            grant,
            people,
            granted_by: steward.name.clone(),
            granted_at: now,
            revoked_by: None,
            revoked_at: None,
        })
    }

    /// Every version of project `id`'s permit, newest first (for those who may see the
    /// project).
    pub async fn history(&self, caller: &Principal, id: &str) -> Result<Vec<Permit>> {
        Projects::new(self.meta).get(caller, id).await?;
        self.meta
            .projects()
            .permits(id)
            .await?
            .iter()
            .map(permit)
            .collect()
    }

    /// Revokes project `id`'s permit (a steward).
    pub async fn revoke(&self, steward: &Principal, id: &str, now: Now) -> Result<u64> {
        if !steward.roles.has(Role::Steward) {
            return Err(refused("revoking a permit needs the steward role".into()));
        }
        Projects::new(self.meta).get(steward, id).await?;
        let revoked = self
            .meta
            .projects()
            .revoke_permits(id, &steward.name, now)
            .await?;
        if revoked == 0 {
            return Err(refused(format!(
                "project {id} has no permit in force to revoke"
            )));
        }
        Ok(revoked)
    }

    /// Checks that `caller` may use project `id`'s permit now, and gives its scope.
    pub async fn check(
        &self,
        caller: &Principal,
        id: &str,
        now: Now,
    ) -> Result<PermitScope, PermitCheck> {
        if caller.project.as_deref().is_some_and(|bound| bound != id) {
            return Err(PermitDenied::OtherProject(id.to_owned()).into());
        }
        let live = self
            .meta
            .projects()
            .live_permit(id)
            .await
            .map_err(|e| PermitCheck::Failed(e.into()))?
            .ok_or_else(|| PermitDenied::NoPermit(id.to_owned()))?;
        let permit = permit(&live).map_err(PermitCheck::Failed)?;
        if now < permit.grant.starts_at {
            return Err(PermitDenied::NotYet(id.to_owned()).into());
        }
        if now >= permit.grant.expires_at {
            return Err(PermitDenied::Expired(id.to_owned()).into());
        }
        if !permit.grant.members.contains(&caller.name) {
            return Err(PermitDenied::NotMember(id.to_owned()).into());
        }
        Ok(PermitScope {
            project: id.to_owned(),
            version: permit.version,
            user: caller.name.clone(),
            grant: permit.grant,
            people: permit.people,
        })
    }

    /// Every permit in force: who can see which tables, through which project and
    /// permit, since when and until when.
    pub async fn review(&self, _: &Oversight<'_>, now: Now) -> Result<Vec<AccessLine>> {
        let mut lines = Vec::new();
        let mut released = BTreeMap::new();
        for record in self.meta.projects().all_permits().await? {
            if record.revoked_at.is_some() || record.expires_at <= now {
                continue;
            }
            let permit = permit(&record)?;
            if !released.contains_key(&permit.project) {
                let outputs = crate::Releases::new(self.meta)
                    .released(&permit.project)
                    .await?;
                let titles: Vec<String> = outputs.into_iter().map(|o| o.title).collect();
                released.insert(permit.project.clone(), titles);
            }
            let outputs = &released[&permit.project];
            for member in &permit.grant.members {
                for table in &permit.grant.tables {
                    lines.push(AccessLine {
                        user: member.clone(),
                        project: permit.project.clone(),
                        permit_version: permit.version,
                        dataset: permit.grant.dataset.clone(),
                        table: table.name.clone(),
                        columns: table.columns.len(),
                        filtered: !table.filters.is_empty(),
                        mode: permit.grant.mode,
                        since: permit.grant.starts_at.max(permit.granted_at),
                        until: permit.grant.expires_at,
                        released_outputs: outputs.clone(),
                    });
                }
            }
        }
        lines.sort_by(|a, b| (&a.user, &a.project, &a.table).cmp(&(&b.user, &b.project, &b.table)));
        Ok(lines)
    }

    /// The columns of each table of `dataset`, from the schemas it was declared with,
    /// and what its tables' person paths are computed from.
    async fn columns(&self, dataset: &str) -> Result<(Columns, Vec<TableFacts>)> {
        let tables = self.meta.datasets().tables(dataset).await?;
        if tables.is_empty() {
            return Err(invalid("dataset", format!("there is no dataset {dataset}")));
        }
        let mut columns = Columns::new();
        let mut facts = Vec::new();
        for table in tables {
            let schema: serde_json::Value =
                serde_json::from_str(&table.schema_json).unwrap_or_default();
            facts.push(TableFacts::from_schema(
                &table.name,
                &schema,
                &table.identifiers,
                table.reference,
            ));
            let fields = schema["fields"].as_array().cloned().unwrap_or_default();
            columns.insert(
                table.name,
                fields
                    .iter()
                    .filter_map(|f| {
                        let numeric =
                            matches!(f["type"].as_str(), Some("integer" | "number" | "year"));
                        f["name"].as_str().map(|n| (n.to_owned(), numeric))
                    })
                    .collect(),
            );
        }
        Ok((columns, facts))
    }
}

/// One line of the access review.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AccessLine {
    /// Who.
    pub user: String,
    /// Through which project.
    pub project: String,
    /// And which version of its permit.
    pub permit_version: i64,
    /// The dataset.
    pub dataset: String,
    /// The table.
    pub table: String,
    /// How many of its columns.
    pub columns: usize,
    /// Whether rows are filtered.
    pub filtered: bool,
    /// How results may leave.
    pub mode: Mode,
    /// Since when.
    pub since: i64,
    /// Until when.
    pub until: i64,
    /// Titles of the project's outputs released so far (never their contents).
    pub released_outputs: Vec<String>,
}

/// The access review as CSV, one line per user, project and table.
pub fn review_csv(lines: &[AccessLine]) -> String {
    let mut out = String::from(
        "user,project,permit_version,dataset,table,columns,filtered,mode,since,until,released_outputs\n",
    );
    for l in lines {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            l.user,
            l.project,
            l.permit_version,
            l.dataset,
            l.table,
            l.columns,
            l.filtered,
            l.mode.as_str(),
            l.since,
            l.until,
            l.released_outputs.len()
        ));
    }
    out
}

/// Why a permit check did not give a scope.
#[derive(Debug, thiserror::Error)]
pub enum PermitCheck {
    /// The permit does not let the caller in.
    #[error(transparent)]
    Denied(#[from] PermitDenied),
    /// Reading the permit failed.
    #[error(transparent)]
    Failed(Error),
}

fn check_tables(grant: &Grant, columns: &Columns) -> Result<()> {
    if grant.tables.is_empty() {
        return Err(invalid("tables", "name at least one table".into()));
    }
    let mut seen = BTreeSet::new();
    for table in &grant.tables {
        if !seen.insert(&table.name) {
            return Err(invalid(
                "tables",
                format!("table {} is named twice", table.name),
            ));
        }
        let known = columns.get(&table.name).ok_or_else(|| {
            invalid(
                "tables",
                format!("dataset {} has no table {}", grant.dataset, table.name),
            )
        })?;
        if table.columns.is_empty() {
            return Err(invalid(
                "columns",
                format!("name the columns of {} the permit opens", table.name),
            ));
        }
        let filtered = table.filters.iter().map(Filter::column);
        for column in table.columns.iter().map(String::as_str).chain(filtered) {
            if !known.contains_key(column) {
                return Err(invalid(
                    "columns",
                    format!("table {} has no column {column}", table.name),
                ));
            }
        }
        for filter in &table.filters {
            let numeric = known[filter.column()];
            for value in filter.values() {
                let fits = matches!(value, Scalar::Number(_)) == numeric;
                if !fits {
                    return Err(invalid(
                        "filters",
                        format!(
                            "column {}.{} holds {}: compare it with {}",
                            table.name,
                            filter.column(),
                            if numeric { "numbers" } else { "text or dates" },
                            if numeric {
                                "numbers"
                            } else {
                                "quoted text, dates as \"YYYY-MM-DD\""
                            }
                        ),
                    ));
                }
            }
        }
        check_consistent(&table.name, &table.filters)?;
    }
    Ok(())
}

/// Filters on one column that no row could satisfy together are refused.
fn check_consistent(table: &str, filters: &[Filter]) -> Result<()> {
    let contradiction = |column: &str, why: &str| {
        invalid(
            "filters",
            format!("filters on {table}.{column} contradict each other: {why}"),
        )
    };
    let mut by_column: BTreeMap<&str, Vec<&Filter>> = BTreeMap::new();
    for filter in filters {
        if let Filter::Between { column, low, high } = filter
            && less(high, low)
        {
            return Err(contradiction(
                column,
                "the low bound is above the high bound",
            ));
        }
        if let Filter::In { column, values } = filter
            && values.is_empty()
        {
            return Err(contradiction(column, "an empty list keeps no row"));
        }
        by_column.entry(filter.column()).or_default().push(filter);
    }
    for (column, filters) in by_column {
        // The values each filter allows, intersected: some value must pass them all.
        // Some value named in them must pass all (for ranges alone, the highest low
        // bound does exactly when it is not above the lowest high bound).
        let satisfiable = filters
            .iter()
            .flat_map(|f| f.values())
            .any(|value| filters.iter().all(|f| allows(f, value)));
        if !satisfiable {
            return Err(contradiction(column, "no value passes all of them"));
        }
    }
    Ok(())
}

fn allows(filter: &Filter, value: &Scalar) -> bool {
    match filter {
        Filter::Between { low, high, .. } => !less(value, low) && !less(high, value),
        Filter::In { values, .. } => values.contains(value),
        Filter::Equals { value: v, .. } => v == value,
    }
}

fn less(a: &Scalar, b: &Scalar) -> bool {
    match (a, b) {
        (Scalar::Number(a), Scalar::Number(b)) => a < b,
        (Scalar::Text(a), Scalar::Text(b)) => a < b,
        _ => false,
    }
}

/// A permit's scope as stored.
#[derive(Serialize, Deserialize)]
struct Stored {
    tables: Vec<PermitTable>,
    members: Vec<String>,
    /// None in permits granted before person paths: their tables without identifier
    /// columns open no view until the permit is granted again.
    people: Option<PersonPaths>,
}

/// A stored scope: the current form, or the `[tables, members]` of earlier versions.
#[derive(Deserialize)]
#[serde(untagged)]
enum AnyStored {
    Current(Stored),
    Pair(Vec<PermitTable>, Vec<String>),
}

fn permit(record: &PermitRecord) -> Result<Permit> {
    let stored: AnyStored = serde_json::from_str(&record.scope_json).map_err(|e| {
        invalid(
            "permit",
            format!("stored permit of {} is unreadable: {e}", record.project_id),
        )
    })?;
    let (tables, members, people) = match stored {
        AnyStored::Current(s) => (s.tables, s.members, s.people.unwrap_or_default()),
        AnyStored::Pair(tables, members) => (tables, members, PersonPaths::default()),
    };
    Ok(Permit {
        project: record.project_id.clone(),
        version: record.version,
        grant: Grant {
            dataset: record.dataset.clone(),
            tables,
            members,
            starts_at: record.starts_at,
            expires_at: record.expires_at,
            mode: if record.mode == "row_level" {
                Mode::RowLevel
            } else {
                Mode::AggregateOnly
            },
        },
        people,
        granted_by: record.granted_by.clone(),
        granted_at: record.granted_at,
        revoked_by: record.revoked_by.clone(),
        revoked_at: record.revoked_at,
    })
}

fn invalid(field: &'static str, problem: String) -> Error {
    Error::Invalid { field, problem }
}
