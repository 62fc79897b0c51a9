//! A project's workspace: the permit's views, and nothing else. Each view is planned
//! in a private context over the dataset's latest version: rows filtered by the
//! permit's filters and by the opt-out register, then only the permitted columns, the
//! identifier ones marked as hub pseudonyms: each query's plan turns them into project
//! pseudonyms wherever a value could show ([`crate::pseudonymise`]). Queries run in a
//! fresh session per query that holds only these views (see [`crate::run`]), so a
//! table outside the permit and a table that does not exist are the same: absent.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bastide_access::{Filter, Link, Mode, PermitScope, PermitTable, PersonPath, Scalar};
use bastide_store::DatasetStore;
use bastide_store::manifest::Manifest;
use datafusion::catalog::TableProvider;
use datafusion::common::{Column, JoinType, TableReference};
use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, ScalarUDF, col, lit};

use sha2::{Digest, Sha256};

use crate::permitted::PermittedTable;
use crate::pseudonym::{HubPseudonym, NotOptedOut, ProjectPseudonym};
use crate::{Error, Result};

/// The opt-out register as a query finds it: hub pseudonyms, and a digest that tells
/// one state of the register from another.
#[derive(Clone)]
pub struct OptOuts {
    register: Arc<HashSet<String>>,
    digest: [u8; 32],
}

impl OptOuts {
    /// The register holding `pseudonyms` (in any order).
    pub fn new(mut pseudonyms: Vec<String>) -> Self {
        pseudonyms.sort_unstable();
        pseudonyms.dedup();
        let mut digest = Sha256::new();
        for p in &pseudonyms {
            digest.update((p.len() as u64).to_le_bytes());
            digest.update(p.as_bytes());
        }
        Self {
            register: Arc::new(pseudonyms.into_iter().collect()),
            digest: digest.finalize().into(),
        }
    }
}

impl std::fmt::Debug for OptOuts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptOuts")
            .field("people", &self.register.len())
            .finish()
    }
}

/// Views opened before, shared by a hub's queries. A view depends only on what its key
/// names: the project's permit (by version), the dataset version it reads and the
/// opt-out register. Data keys are not in it: the Parquet reader asks for them at each
/// read, so a shredded key still stops a cached view.
#[derive(Debug, Clone, Default)]
pub struct ViewCache {
    views: Arc<Mutex<HashMap<ViewKey, View>>>,
}

/// A view and its identifier columns (lower case).
type View = (Arc<dyn TableProvider>, BTreeSet<String>);

/// Views kept; past this the cache starts again empty.
const CACHED_VIEWS: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ViewKey {
    project: String,
    permit: i64,
    manifest: String,
    table: String,
    opt_outs: [u8; 32],
}

impl ViewCache {
    fn get(&self, key: &ViewKey) -> Option<View> {
        self.views.lock().expect("view cache").get(key).cloned()
    }

    fn put(&self, key: ViewKey, view: View) {
        let mut views = self.views.lock().expect("view cache");
        if views.len() >= CACHED_VIEWS {
            views.clear();
        }
        views.insert(key, view);
    }
}

/// A permit's views, ready to query.
#[derive(Clone)]
pub struct Workspace {
    scope: PermitScope,
    store: DatasetStore,
    views: BTreeMap<String, Arc<dyn TableProvider>>,
    identifiers: BTreeMap<String, BTreeSet<String>>,
    /// `project_pseudonym`, keyed for this project.
    pseudonym: Arc<ScalarUDF>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("project", &self.scope.project())
            .field("views", &self.views.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Workspace {
    /// The views `scope` opens over `store`'s latest versions, without the people in
    /// `opt_outs`. Names are lower case, as SQL folds them. With `only`, just the views
    /// of those tables (the ones a query names: each view costs a look at its files and
    /// keys); the others are absent, like any table outside the permit. Views found in
    /// `cache` are taken from it, the others put in it.
    pub async fn open(
        scope: PermitScope,
        store: &DatasetStore,
        opt_outs: &OptOuts,
        only: Option<&BTreeSet<String>>,
        cache: &ViewCache,
    ) -> Result<Self> {
        let (record, manifest) =
            store
                .latest(scope.dataset())
                .await?
                .ok_or_else(|| Error::Invalid {
                    message: format!("dataset {} holds no data yet", scope.dataset()),
                })?;
        let project = scope.project();
        let key_scope = format!("project:{project}")
            .parse()
            .map_err(|_| Error::Internal(format!("project id {project} is not a key scope")))?;
        let secret = store
            .keys()
            .named(&format!("pk-{project}"), &key_scope)
            .await?;
        let pseudonym = ProjectPseudonym::new(project, secret.as_bytes()).udf();
        let functions = Functions {
            hub: HubPseudonym::udf(),
            opted_in: (!opt_outs.register.is_empty())
                .then(|| NotOptedOut::new(opt_outs.register.clone()).udf()),
        };
        let mut views = BTreeMap::new();
        let mut identifiers = BTreeMap::new();
        for table in scope.tables() {
            // A permitted table with no rows stored yet has no view (yet): queries
            // naming it meet "not found", as for any table the workspace lacks.
            let name = table.name.to_lowercase();
            if manifest.table(&table.name).is_none() || only.is_some_and(|o| !o.contains(&name)) {
                continue;
            }
            let key = ViewKey {
                project: project.to_owned(),
                permit: scope.version(),
                manifest: record.manifest_sha256.clone(),
                table: table.name.clone(),
                opt_outs: opt_outs.digest,
            };
            let (view, ids) = match cache.get(&key) {
                Some(cached) => cached,
                None => {
                    let opened = view(store, &manifest, &scope, table, &functions).await?;
                    cache.put(key, opened.clone());
                    opened
                }
            };
            if views.insert(name.clone(), view).is_some() {
                return Err(Error::Internal(format!(
                    "two tables of the permit are both named {name} once in lower case"
                )));
            }
            identifiers.insert(name, ids);
        }
        Ok(Self {
            scope,
            store: store.clone(),
            views,
            identifiers,
            pseudonym,
        })
    }

    /// The permit this workspace was opened with.
    pub fn scope(&self) -> &PermitScope {
        &self.scope
    }

    /// Row-level or aggregates only.
    pub fn mode(&self) -> Mode {
        self.scope.mode()
    }

    /// The views, by name.
    pub fn views(&self) -> &BTreeMap<String, Arc<dyn TableProvider>> {
        &self.views
    }

    /// The identifier columns of each view (pseudonyms).
    pub fn identifiers(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.identifiers
    }

    /// `project_pseudonym`, keyed for this project.
    pub(crate) fn pseudonym(&self) -> &Arc<ScalarUDF> {
        &self.pseudonym
    }

    /// The hub's storage and keys.
    pub(crate) fn store(&self) -> &DatasetStore {
        &self.store
    }
}

struct Functions {
    /// The marker of identifier columns.
    hub: Arc<ScalarUDF>,
    /// None when the register is empty.
    opted_in: Option<Arc<ScalarUDF>>,
}

/// The view of one permitted table, and its identifier columns (lower case): the
/// permitted rows ([`Rows`], inside a [`PermittedTable`] that no expression of a query
/// enters), then the permitted columns, identifiers marked.
async fn view(
    store: &DatasetStore,
    manifest: &Manifest,
    scope: &PermitScope,
    table: &PermitTable,
    functions: &Functions,
) -> Result<View> {
    let stored = manifest
        .table(&table.name)
        .ok_or_else(|| Error::Internal(format!("table {} has no data", table.name)))?;
    let rows = Rows::load(store, manifest, scope, &table.name, functions).await?;
    let plan = LogicalPlanBuilder::from(rows.of(&table.name, &[], &mut Vec::new())?)
        .project(table.columns.iter().map(|c| col(quoted(c))))
        .and_then(LogicalPlanBuilder::build)
        .map_err(internal)?;
    let shown_name = table.name.to_lowercase();
    let permitted = Arc::new(PermittedTable::new(&shown_name, plan));
    let mut identifiers = BTreeSet::new();
    let columns: Vec<Expr> = table
        .columns
        .iter()
        .map(|column| {
            let shown = column.to_lowercase();
            if stored.identifiers.contains(column) {
                identifiers.insert(shown.clone());
                functions.hub.call(vec![col(quoted(column))]).alias(shown)
            } else {
                col(quoted(column)).alias(shown)
            }
        })
        .collect();
    let plan = LogicalPlanBuilder::scan(shown_name, provider_as_source(permitted), None)
        .and_then(|b| b.project(columns))
        .and_then(LogicalPlanBuilder::build)
        .map_err(internal)?;
    Ok((Arc::new(ViewTable::new(plan, None)), identifiers))
}

/// Plans of the rows a permit lets through, table by table: a table's own filters and
/// opt-outs, and the rows it belongs to (its person path, and links to tables whose
/// rows the permit narrows).
struct Rows<'a> {
    manifest: &'a Manifest,
    scope: &'a PermitScope,
    functions: &'a Functions,
    stored: HashMap<String, Arc<dyn TableProvider>>,
}

impl<'a> Rows<'a> {
    /// Opens the stored tables the rows of `table` depend on.
    async fn load(
        store: &DatasetStore,
        manifest: &'a Manifest,
        scope: &'a PermitScope,
        table: &str,
        functions: &'a Functions,
    ) -> Result<Self> {
        let people = scope.people();
        let mut names: BTreeSet<&str> = BTreeSet::from([table]);
        for path in people.paths.values() {
            if let PersonPath::Linked { links } = path {
                names.extend(links.iter().map(|l| l.to.as_str()));
            }
        }
        names.extend(people.links.iter().map(|l| l.to.as_str()));
        let mut stored = HashMap::new();
        for name in names {
            if manifest.table(name).is_some() {
                stored.insert(name.to_owned(), store.table(manifest, name).await?);
            }
        }
        Ok(Self {
            manifest,
            scope,
            functions,
            stored,
        })
    }

    /// The rows of `name` that may be seen: its filters, its people not opted out,
    /// and linked to a seen row along `chain` (the rest of a person path), its own
    /// person path, and each link to a table the permit narrows. `visited` holds the
    /// tables the caller is already reading, whose links back are not followed.
    fn of(&self, name: &str, chain: &[Link], visited: &mut Vec<String>) -> Result<LogicalPlan> {
        let Some(provider) = self.stored.get(name) else {
            return Err(Error::Internal(format!("table {name} is not loaded")));
        };
        let stored = self.manifest.table(name).expect("loaded tables are stored");
        let permitted = self.scope.tables().iter().find(|t| t.name == name);
        let mut rows = LogicalPlanBuilder::scan(
            TableReference::bare(name),
            provider_as_source(provider.clone()),
            None,
        )
        .map_err(internal)?;
        for filter in permitted.iter().flat_map(|t| &t.filters) {
            rows = rows.filter(predicate(filter)).map_err(internal)?;
        }
        if let Some(opted_in) = &self.functions.opted_in {
            for column in &stored.identifiers {
                rows = rows
                    .filter(opted_in.call(vec![col(quoted(column))]))
                    .map_err(internal)?;
            }
        }
        visited.push(name.to_owned());
        let mut links: Vec<(&Link, &[Link])> = Vec::new();
        if let Some((first, rest)) = chain.split_first() {
            links.push((first, rest));
        } else if permitted.is_some() {
            match self.scope.people().paths.get(name) {
                Some(PersonPath::Linked { links: path }) => {
                    let (first, rest) = path.split_first().expect("a linked path has a link");
                    links.push((first, rest));
                }
                Some(PersonPath::Own | PersonPath::NonPersonal) => {}
                None if stored.identifiers.is_empty() => {
                    return Err(Error::Invalid {
                        message: format!(
                            "the permit was granted before Bastide traced how rows of {name} reach their person; ask a steward to grant it again"
                        ),
                    });
                }
                None => {}
            }
        }
        for link in &self.scope.people().links {
            let followed = links.iter().any(|(l, _)| *l == link);
            if link.table == name && !followed && self.narrowed(&link.to, visited) {
                links.push((link, &[]));
            }
        }
        for (link, rest) in links {
            if visited.contains(&link.to) {
                continue;
            }
            if !self.stored.contains_key(&link.to) {
                // The table its rows belong to holds no data yet: none is linked.
                rows = rows.filter(lit(false)).map_err(internal)?;
                continue;
            }
            let to = self.of(&link.to, rest, visited)?;
            let to = LogicalPlanBuilder::from(to)
                .project(link.to_columns.iter().map(|c| col(quoted(c))))
                .and_then(|b| b.alias("linked"))
                .and_then(LogicalPlanBuilder::build)
                .map_err(internal)?;
            let here: Vec<Column> = link
                .columns
                .iter()
                .map(|c| Column::new(Some(TableReference::bare(name)), c))
                .collect();
            let there: Vec<Column> = link
                .to_columns
                .iter()
                .map(|c| Column::new(Some(TableReference::bare("linked")), c))
                .collect();
            rows = rows
                .join(to, JoinType::LeftSemi, (here, there), None)
                .map_err(internal)?;
        }
        visited.pop();
        rows.build().map_err(internal)
    }

    /// Whether the permit narrows the rows of `table` (its filters, or those of a
    /// table its rows belong to).
    fn narrowed(&self, table: &str, visited: &[String]) -> bool {
        let filtered = self
            .scope
            .tables()
            .iter()
            .any(|t| t.name == table && !t.filters.is_empty());
        filtered
            || self.scope.people().links.iter().any(|l| {
                l.table == table
                    && !visited.contains(&l.to)
                    && l.to != table
                    && self.narrowed(&l.to, &[visited, &[table.to_owned()]].concat())
            })
    }
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
fn quoted(column: &str) -> String {
    format!("\"{}\"", column.replace('"', "\"\""))
}

fn internal(e: datafusion::error::DataFusionError) -> Error {
    Error::Internal(e.to_string())
}
