//! A project's workspace: the permit's views, and nothing else. Each view is planned
//! in a private context over the dataset's latest version: rows filtered by the
//! permit's filters and by the opt-out register, then only the permitted columns, the
//! identifier ones marked as hub pseudonyms: each query's plan turns them into project
//! pseudonyms wherever a value could show ([`crate::pseudonymise`]). Queries run in a
//! fresh session per query that holds only these views (see [`crate::run`]), so a
//! table outside the permit and a table that does not exist are the same: absent.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bastide_access::{Mode, PermitScope, PermitTable};
use bastide_store::DatasetStore;
use bastide_store::manifest::Manifest;
use datafusion::catalog::TableProvider;
use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, ScalarUDF, col};

use sha2::{Digest, Sha256};

use crate::error::internal;
use crate::permitted::PermittedTable;
use crate::pseudonym::{HubPseudonym, NotOptedOut, ProjectPseudonym};
use crate::rows::{PERSON, Rows, quoted};
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
    /// The disclosure rules an aggregate-only answer's cells are checked against.
    rules: bastide_sdc::Rules,
    published: Option<Arc<crate::disclosure::Published>>,
    /// The project's persons' keys (seeded from its secret), which its sketches
    /// hold.
    person_key: Arc<ScalarUDF>,
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
        let sketch_seed = crate::disclosure::seed(secret.as_bytes());
        let person_key = crate::disclosure::key::person_keys(sketch_seed);
        let functions = Functions {
            hub: HubPseudonym::udf(),
            person_key: person_key.clone(),
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
            rules: bastide_sdc::Rules::default(),
            published: None,
            person_key,
        })
    }

    /// The same workspace, its aggregate-only answers checked against `rules` (the
    /// defaults until then).
    pub fn checked_by(mut self, rules: bastide_sdc::Rules) -> Self {
        self.rules = rules;
        self
    }

    /// The same workspace, each group its aggregate-only answers publish compared with
    /// the groups in `published` (the project's earlier answers) and remembered there:
    /// a group a few persons away from one shown before is withheld.
    pub fn remembering(mut self, published: Arc<crate::disclosure::Published>) -> Self {
        self.published = Some(published);
        self
    }

    /// The project's earlier published groups, when they are compared.
    pub(crate) fn published(&self) -> Option<&Arc<crate::disclosure::Published>> {
        self.published.as_ref()
    }

    /// The project's `person_key` ([`crate::disclosure::key`]).
    pub(crate) fn person_key(&self) -> &Arc<ScalarUDF> {
        &self.person_key
    }

    /// The disclosure rules of its aggregate-only answers.
    pub fn rules(&self) -> &bastide_sdc::Rules {
        &self.rules
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
    /// The project's persons' keys.
    person_key: Arc<ScalarUDF>,
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
    let rows = Rows::load(
        store,
        manifest,
        scope,
        &table.name,
        functions.opted_in.as_ref(),
        &functions.person_key,
    )
    .await?;
    let all = rows.of(&table.name, &[], &mut Vec::new())?;
    let permitted_columns = |plan: LogicalPlan, person: bool| {
        let person = person.then(|| col(PERSON));
        LogicalPlanBuilder::from(plan)
            .project(table.columns.iter().map(|c| col(quoted(c))).chain(person))
            .and_then(LogicalPlanBuilder::build)
            .map_err(internal)
    };
    // Under an aggregate-only permit, each answer's cells are checked against the
    // persons behind them (see `crate::disclosure`).
    let with_person = match scope.mode() {
        Mode::AggregateOnly => match rows.with_person(&table.name, all.clone())? {
            Some((plan, equals)) => Some((
                permitted_columns(plan, true)?,
                equals.filter(|c| table.columns.contains(c)),
            )),
            None => None,
        },
        Mode::RowLevel => None,
    };
    let plan = permitted_columns(all, false)?;
    let shown_name = table.name.to_lowercase();
    let key = scope.people().keys.get(&table.name).and_then(|key| {
        key.iter()
            .map(|k| table.columns.iter().position(|c| c == k))
            .collect::<Option<Vec<usize>>>()
    });
    let quantities = scope
        .people()
        .quantities
        .get(&table.name)
        .cloned()
        .unwrap_or_default();
    let permitted = Arc::new(PermittedTable::new(
        &shown_name,
        plan,
        with_person,
        key,
        quantities,
    ));
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
