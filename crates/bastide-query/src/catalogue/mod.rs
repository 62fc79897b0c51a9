//! The PostgreSQL catalogue of a workspace, as its permit shows it.
//!
//! Clients introspect before they query: psql's `\dt` and `\d`, DBeaver's navigator,
//! R's `dbListTables`, SQLAlchemy's inspector and JDBC's `DatabaseMetaData` read
//! `pg_catalog` and `information_schema`. A [`Catalogue`] answers them in a session of
//! its own that holds no data at all: each view of the workspace as an empty table of
//! the same columns and types (so the catalogue lists exactly the permit's tables and
//! columns, and reading one there yields no row), `pg_catalog` as
//! `datafusion-pg-catalog` builds it over those tables (PostgreSQL's built-in rows,
//! types, functions such as `format_type` or `pg_get_userbyid`), `information_schema`,
//! and the catalogue's column descriptions as PostgreSQL comments (`pg_description`,
//! `col_description`).
//!
//! [`catalogue_statement`] decides which statements go there: a query every relation of
//! which is in `pg_catalog` or `information_schema` (or that reads no relation and
//! calls one of the catalogue's functions, `SELECT version()`). Anything naming a
//! table of the workspace goes to the workspace, its guard and its checks, where the
//! catalogue's relations are refused as before. Catalogue reads run read-only, within
//! the query's memory and time limits, and open no data path.

mod functions;
mod statement;

pub use functions::SESSION_SETTINGS;
use functions::{CurrentSetting, NullOf, col_description, text_udf, visible_udf};
use statement::{CATALOGUE_FUNCTIONS, is_catalogue_function};
pub use statement::{CatalogueStatement, catalogue_statement};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{AsArray, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use datafusion::catalog::{MemTable, SchemaProvider, TableProvider};
use datafusion::common::ParamValues;
use datafusion::datasource::empty::EmptyTable;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{LogicalPlan, ScalarUDF};
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::setup_pg_catalog;

use crate::executor;
use crate::run::{Described, Limits};
use crate::{Answer, Error, Result};

/// The schema the workspace's tables are listed in.
const PUBLIC: &str = "public";

/// Memory for one catalogue statement: its tables are small, its joins few.
const CATALOGUE_MEMORY: usize = 256 << 20;

/// Time for one catalogue statement.
const CATALOGUE_TIME: Duration = Duration::from_secs(30);

/// The version clients are told (`SELECT version()`); they read the major number.
const VERSION: &str =
    "PostgreSQL 16.6 (Bastide workspace catalogue; queries run on Apache DataFusion)";

/// A table of the workspace as the catalogue lists it: its columns and their
/// descriptions.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedTable {
    /// Its name in the workspace (lower case).
    pub name: String,
    /// Its columns, as the workspace's view has them.
    pub schema: SchemaRef,
    /// What each column holds, by column name, from the hub's catalogue.
    pub descriptions: BTreeMap<String, String>,
}

/// A session over the catalogue of one workspace, holding no data. Object ids
/// (`pg_class.oid`) are given as a session first lists the tables, and clients keep
/// them from one statement to the next (psql's `\d` looks a table up, then its
/// columns by its id): a connection keeps its catalogue while the tables it lists
/// stay the same ([`Catalogue::lists`]).
pub struct Catalogue {
    ctx: SessionContext,
    limits: Limits,
    tables: Vec<ListedTable>,
}

impl std::fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogue").finish_non_exhaustive()
    }
}

impl Catalogue {
    /// The catalogue of `tables`, as the database `database` (the project) shows them,
    /// answering within `limits` (and less memory).
    pub async fn new(database: &str, tables: &[ListedTable], limits: &Limits) -> Result<Self> {
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(database, PUBLIC)
            .with_create_default_catalog_and_schema(true)
            .with_information_schema(true)
            .set_bool("datafusion.execution.enable_recursive_ctes", false);
        let memory = limits.memory_bytes.min(CATALOGUE_MEMORY);
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(bastide_store::QueryPool::new(
                memory,
                &limits.hub_memory.pool(),
            )))
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()
            .map_err(internal)?;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        for table in tables {
            let empty: Arc<dyn TableProvider> = Arc::new(EmptyTable::new(table.schema.clone()));
            ctx.register_table(table.name.as_str(), empty)
                .map_err(internal)?;
        }
        setup_pg_catalog(&ctx, database, EmptyContextProvider).map_err(|e| internal(*e))?;
        ctx.register_udf(text_udf("version", VERSION));
        ctx.register_udf(ScalarUDF::new_from_impl(CurrentSetting::new()));
        ctx.register_udf(visible_udf("pg_function_is_visible"));
        ctx.register_udf(visible_udf("pg_type_is_visible"));
        ctx.register_udf(visible_udf("pg_collation_is_visible"));
        let catalogue = Self {
            ctx,
            limits: Limits {
                memory_bytes: memory,
                time: limits.time.min(CATALOGUE_TIME),
                ..limits.clone()
            },
            tables: tables.to_vec(),
        };
        catalogue.describe_columns(tables).await?;
        Ok(catalogue)
    }

    /// Whether this catalogue lists exactly `tables`.
    pub fn lists(&self, tables: &[ListedTable]) -> bool {
        self.tables == tables
    }

    /// The columns `statement` answers and its placeholders' types, planned on the
    /// query threads (`held` let go when planning has ended, as in [`Catalogue::run`]).
    pub async fn describe(
        &self,
        statement: &CatalogueStatement,
        held: impl Send + 'static,
    ) -> Result<Described> {
        let (ctx, statement) = (self.ctx.clone(), statement.clone());
        let work = executor::spawn(async move {
            let _held = held;
            plan(&ctx, &statement).await
        })?;
        let plan = self.within_time(work).await???;
        Described::of(&plan).map_err(invalid)
    }

    /// Answers `statement` with `params` bound, within the limits. It is planned and
    /// run on the query threads, as a workspace's queries are ([`executor`]), its
    /// operators cooperative: a join of `pg_proc` with itself on `a.oid + b.oid = 7`
    /// held the threads that answer requests, the hub's health checks with them.
    /// `held` (the caller's place among their running statements) is let go when the
    /// work has ended, not when the caller is told it was stopped.
    pub async fn run(
        &self,
        statement: &CatalogueStatement,
        params: ParamValues,
        held: impl Send + 'static,
    ) -> Result<Answer> {
        let started = std::time::Instant::now();
        let (ctx, statement) = (self.ctx.clone(), statement.clone());
        let max_rows = self.limits.max_rows;
        let work = executor::spawn(async move {
            let _held = held;
            let plan = plan(&ctx, &statement).await?;
            let plan = plan.with_param_values(params).map_err(invalid)?;
            let physical = ctx
                .state()
                .create_physical_plan(&plan)
                .await
                .map_err(invalid)?;
            let physical = bastide_store::cooperative(physical).map_err(invalid)?;
            let mut stream = execute_stream(physical, ctx.task_ctx()).map_err(invalid)?;
            crate::run::collect(
                &mut stream,
                max_rows,
                "select fewer columns or rows of the catalogue",
                invalid,
            )
            .await
        })?;
        let (schema, batches, rows, truncated) = self.within_time(work).await???;
        Ok(Answer {
            schema,
            batches,
            rows,
            truncated,
            elapsed: started.elapsed(),
            disclosure: None,
        })
    }

    /// `work`, or a time-out past the catalogue's time limit.
    async fn within_time<T>(&self, work: impl Future<Output = T>) -> Result<T> {
        tokio::time::timeout(self.limits.time, work)
            .await
            .map_err(|_| Error::TimedOut {
                seconds: self.limits.time.as_secs(),
            })
    }

    /// Registers `pg_description` (over PostgreSQL's own rows) and `col_description`
    /// with the catalogue's descriptions of the tables' columns, under the object ids
    /// `pg_class` gave the tables.
    async fn describe_columns(&self, tables: &[ListedTable]) -> Result<()> {
        let oids = self
            .ctx
            .sql("SELECT c.oid, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid WHERE n.nspname = 'public'")
            .await
            .map_err(internal)?
            .collect()
            .await
            .map_err(internal)?;
        let mut by_name = HashMap::new();
        for batch in &oids {
            let oid = datafusion::arrow::compute::cast(batch.column(0), &DataType::Int32)
                .map_err(|e| Error::Internal(e.to_string()))?;
            let name = datafusion::arrow::compute::cast(batch.column(1), &DataType::Utf8)
                .map_err(|e| Error::Internal(e.to_string()))?;
            for (oid, name) in oid
                .as_primitive::<Int32Type>()
                .iter()
                .zip(name.as_string::<i32>().iter())
            {
                if let (Some(oid), Some(name)) = (oid, name) {
                    by_name.insert(name.to_owned(), oid);
                }
            }
        }
        let mut comments: HashMap<(i32, i32), String> = HashMap::new();
        for table in tables {
            let Some(oid) = by_name.get(&table.name) else {
                continue;
            };
            for (position, field) in table.schema.fields().iter().enumerate() {
                if let Some(text) = table.descriptions.get(field.name()) {
                    comments.insert((*oid, position as i32 + 1), text.clone());
                }
            }
        }
        self.ctx.register_udf(col_description(comments.clone()));
        for name in [
            "obj_description",
            "shobj_description",
            "pg_get_function_result",
            "pg_get_function_arguments",
            "pg_get_function_identity_arguments",
            "pg_get_viewdef",
            "pg_get_indexdef",
            "pg_get_triggerdef",
            "pg_get_ruledef",
            "pg_get_functiondef",
            "pg_size_pretty",
            "pg_get_serial_sequence",
            // Only in branches for identity columns and collations, which no table
            // of a workspace has (SQLAlchemy's inspector).
            "json_build_object",
        ] {
            self.ctx
                .register_udf(ScalarUDF::new_from_impl(NullOf::new(name, DataType::Utf8)));
        }
        // Sizes on disk, which the catalogue does not tell (psql's `\dt+`).
        for name in ["pg_table_size", "pg_indexes_size"] {
            self.ctx
                .register_udf(ScalarUDF::new_from_impl(NullOf::new(name, DataType::Int64)));
        }
        // Types and relations looked up by name that the catalogue does not hold
        // (`to_regtype('hstore')`, as psycopg asks).
        for name in ["to_regtype", "to_regclass", "to_regproc", "to_regnamespace"] {
            self.ctx
                .register_udf(ScalarUDF::new_from_impl(NullOf::new(name, DataType::Int32)));
        }
        let pg_catalog = self
            .ctx
            .catalog(&self.ctx.state().config().options().catalog.default_catalog)
            .and_then(|c| c.schema("pg_catalog"))
            .ok_or_else(|| Error::Internal("pg_catalog is missing".into()))?;
        let described: Arc<dyn SchemaProvider> =
            Arc::new(Commented::over(pg_catalog, &comments).await?);
        self.ctx
            .catalog(&self.ctx.state().config().options().catalog.default_catalog)
            .ok_or_else(|| Error::Internal("the catalogue's database is missing".into()))?
            .register_schema("pg_catalog", described)
            .map_err(internal)?;
        Ok(())
    }
}

/// The plan of `statement` in the catalogue's session `ctx`: read-only, its functions
/// the workspace's and the catalogue's own (none that makes a value of any size, the
/// growing ones bounded), its columns not too heavy to optimise, as in the workspace.
async fn plan(ctx: &SessionContext, statement: &CatalogueStatement) -> Result<LogicalPlan> {
    let plan = ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(statement.0.clone())))
        .await
        .map_err(invalid)?;
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(&plan)
        .map_err(|_| Error::Refused {
            construct: "changing the catalogue".into(),
            hint: "the catalogue is read-only",
        })?;
    crate::functions::check_with(&plan, |name| {
        is_catalogue_function(name) || CATALOGUE_FUNCTIONS.contains(&name)
    })?;
    crate::inlined::not_too_heavy(&plan)?;
    crate::functions::cap(plan)
}

/// `pg_catalog` with `pg_description` holding PostgreSQL's rows and the columns'
/// comments.
#[derive(Debug)]
struct Commented {
    inner: Arc<dyn SchemaProvider>,
    description: Arc<dyn TableProvider>,
}

/// The object id of `pg_class` in PostgreSQL (the class of a table's comments).
const PG_CLASS_OID: i32 = 1259;

impl Commented {
    async fn over(
        inner: Arc<dyn SchemaProvider>,
        comments: &HashMap<(i32, i32), String>,
    ) -> Result<Self> {
        let builtin = inner
            .table("pg_description")
            .await
            .map_err(internal)?
            .ok_or_else(|| Error::Internal("pg_description is missing".into()))?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("objoid", DataType::Int32, false),
            Field::new("classoid", DataType::Int32, false),
            Field::new("objsubid", DataType::Int32, false),
            Field::new("description", DataType::Utf8, false),
        ]));
        let mut ordered: Vec<(&(i32, i32), &String)> = comments.iter().collect();
        ordered.sort();
        let ours = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int32Array::from_iter_values(
                    ordered.iter().map(|((o, _), _)| *o),
                )),
                Arc::new(Int32Array::from_iter_values(
                    ordered.iter().map(|_| PG_CLASS_OID),
                )),
                Arc::new(Int32Array::from_iter_values(
                    ordered.iter().map(|((_, n), _)| *n),
                )),
                Arc::new(StringArray::from_iter_values(
                    ordered.iter().map(|(_, t)| t.as_str()),
                )),
            ],
        )
        .map_err(|e| Error::Internal(e.to_string()))?;
        // PostgreSQL's own comments (of built-in objects), read once from the static
        // table, in the same columns.
        let ctx = SessionContext::new();
        ctx.register_table("d", builtin).map_err(internal)?;
        let theirs = ctx
            .sql("SELECT CAST(objoid AS INT) AS objoid, CAST(classoid AS INT) AS classoid, CAST(objsubid AS INT) AS objsubid, CAST(description AS VARCHAR) AS description FROM d")
            .await
            .map_err(internal)?
            .collect()
            .await
            .map_err(internal)?;
        let theirs = theirs
            .iter()
            .map(|b| crate::run::in_schema(b, &schema))
            .collect::<Result<Vec<_>>>()?;
        let description =
            MemTable::try_new(schema, vec![[vec![ours], theirs].concat()]).map_err(internal)?;
        Ok(Self {
            inner,
            description: Arc::new(description),
        })
    }
}

#[async_trait::async_trait]
impl SchemaProvider for Commented {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> datafusion::error::Result<Option<Arc<dyn TableProvider>>> {
        if name == "pg_description" {
            return Ok(Some(self.description.clone()));
        }
        self.inner.table(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

fn internal(e: datafusion::error::DataFusionError) -> Error {
    Error::Internal(format!("the workspace's catalogue: {e}"))
}

/// A client's catalogue statement that does not plan: the planner's message (it sees
/// the catalogue only, which holds no data).
fn invalid(e: datafusion::error::DataFusionError) -> Error {
    match e.find_root() {
        datafusion::error::DataFusionError::ResourcesExhausted(_) => Error::OutOfMemory {
            megabytes: (CATALOGUE_MEMORY >> 20) as u64,
        },
        root => Error::Invalid {
            message: root.strip_backtrace(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed() -> Vec<ListedTable> {
        vec![ListedTable {
            name: "ir_ben_r".into(),
            schema: Arc::new(Schema::new(vec![
                Field::new("ben_nir_psa", DataType::Utf8, true),
                Field::new("ben_sex_cod", DataType::Int64, true),
            ])),
            descriptions: BTreeMap::from([("ben_sex_cod".into(), "Code sexe".into())]),
        }]
    }

    async fn answer(catalogue: &Catalogue, sql: &str) -> Result<Vec<String>> {
        let statement = catalogue_statement(sql).expect("a catalogue statement");
        let answer = catalogue
            .run(&statement, ParamValues::List(vec![]), ())
            .await?;
        Ok(answer
            .batches
            .iter()
            .flat_map(|b| {
                let text = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
                text.as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap_or("NULL").to_owned())
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    #[tokio::test]
    async fn the_catalogue_lists_the_tables_it_is_given_and_runs_nothing_that_grows() {
        let catalogue = Catalogue::new("p-1", &listed(), &Limits::default())
            .await
            .unwrap();
        assert_eq!(
            answer(
                &catalogue,
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
            .await
            .unwrap(),
            ["ir_ben_r"]
        );
        assert_eq!(
            answer(&catalogue, "SELECT pg_catalog.col_description(c.oid, 2) FROM pg_catalog.pg_class c WHERE c.relname = 'ir_ben_r'")
                .await
                .unwrap(),
            ["Code sexe"]
        );
        assert_eq!(
            answer(&catalogue, "SELECT current_setting('DateStyle')")
                .await
                .unwrap(),
            ["ISO, MDY"]
        );
        // Functions that make values of any size are the workspace's refusals here too.
        let refused = answer(&catalogue, "SELECT version(), repeat('x', 1000000000)")
            .await
            .unwrap_err();
        assert!(matches!(refused, Error::Refused { .. }), "{refused}");
        // The tables listed hold no row.
        assert!(catalogue_statement("SELECT * FROM ir_ben_r").is_none());
    }

    /// The caller's threads stay free while a catalogue statement computes, and its
    /// time limit stops it: a join of `pg_proc` with itself on no equality held the
    /// threads that answer requests for hours, and a window over it grew past the
    /// machine's memory.
    #[tokio::test(flavor = "current_thread")]
    async fn a_catalogue_statement_stops_at_its_limits_and_leaves_the_caller_s_threads_free() {
        let limits = Limits {
            time: Duration::from_secs(2),
            ..Limits::default()
        };
        let catalogue = Catalogue::new("p-1", &listed(), &limits).await.unwrap();
        let pairs = "WITH x AS (SELECT a.oid FROM pg_catalog.pg_proc a, pg_catalog.pg_proc b), \
                     y AS (SELECT a.oid FROM pg_catalog.pg_type a, pg_catalog.pg_attribute b) \
                     SELECT count(*) FROM x JOIN y ON x.oid + y.oid = 7";
        let started = std::time::Instant::now();
        let ticks = async {
            let mut ticks = 0;
            while started.elapsed() < Duration::from_secs(1) {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks += 1;
            }
            ticks
        };
        let (stopped, ticks) = tokio::join!(answer(&catalogue, pairs), ticks);
        assert!(
            matches!(stopped, Err(Error::TimedOut { .. })),
            "{stopped:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(
            ticks > 20,
            "the caller's thread ran {ticks} times in a second"
        );
        let window = "SELECT max(c) FROM (SELECT count(*) OVER () AS c \
                      FROM pg_catalog.pg_proc a, pg_catalog.pg_proc b, pg_catalog.pg_amop d) t";
        let stopped = answer(&catalogue, window).await;
        assert!(
            matches!(
                stopped,
                Err(Error::OutOfMemory { .. } | Error::TimedOut { .. })
            ),
            "{stopped:?}"
        );
    }
}
