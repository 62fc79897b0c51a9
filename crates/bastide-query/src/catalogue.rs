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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use datafusion::arrow::array::{ArrayRef, AsArray, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use datafusion::catalog::{MemTable, SchemaProvider, TableProvider};
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::datasource::empty::EmptyTable;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{
    ColumnarValue, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    SimpleScalarUDF, Volatility, create_udf,
};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArguments, GroupByExpr, ObjectName, Query, SelectItem, SetExpr,
    Statement, TableFactor, Value, Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_pg_catalog::pg_catalog::PG_CATALOG_TABLES;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::setup_pg_catalog;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;

use crate::run::{Described, Limits};
use crate::{Answer, Error, Result};

/// The schemas a catalogue statement may read.
const CATALOGUE_SCHEMAS: [&str; 2] = ["pg_catalog", "information_schema"];

/// The schema the workspace's tables are listed in.
const PUBLIC: &str = "public";

/// Memory for one catalogue statement: its tables are small, its joins few.
const CATALOGUE_MEMORY: usize = 256 << 20;

/// The longest catalogue statement (SQLAlchemy's longest is about 4 kB).
const MOST_CATALOGUE_BYTES: usize = 16 << 10;

/// The most binary operators of a catalogue statement (see
/// [`crate::guard::MAX_OPERATORS`]; clients' statements hold a few dozen).
const MOST_CATALOGUE_OPERATORS: usize = 500;

/// Time for one catalogue statement.
const CATALOGUE_TIME: Duration = Duration::from_secs(30);

/// The version clients are told (`SELECT version()`); they read the major number.
const VERSION: &str =
    "PostgreSQL 16.6 (Bastide workspace catalogue; queries run on Apache DataFusion)";

/// A statement that reads the catalogue only, rewritten for DataFusion.
#[derive(Debug, Clone)]
pub struct CatalogueStatement(Statement);

/// `sql` as a catalogue statement, when it is one: a single query reading only
/// `pg_catalog` and `information_schema` relations (common table expressions aside),
/// or none and calling a catalogue function. Anything else is for the workspace.
pub fn catalogue_statement(sql: &str) -> Option<CatalogueStatement> {
    // Clients' catalogue statements are a few kilobytes; a larger one goes to the
    // workspace's guard, which refuses what it must before any deep parse.
    if sql.len() > MOST_CATALOGUE_BYTES || crate::guard::operators(sql) > MOST_CATALOGUE_OPERATORS {
        return None;
    }
    static COMPATIBLE: LazyLock<PostgresCompatibilityParser> =
        LazyLock::new(PostgresCompatibilityParser::new);
    let mut rewritten = COMPATIBLE.parse(sql).ok()?;
    if rewritten.len() != 1 {
        return None;
    }
    let rewritten = rewritten.pop()?;
    // Judged as the client wrote it (the rewrites replace some whole statements of
    // clients by constant answers) and as it will run.
    let original = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok();
    let original = match original.as_deref() {
        Some([one]) => one,
        Some(_) => return None,
        None => &rewritten,
    };
    let reads_catalogue = |statement: &Statement, or_nothing: bool| {
        if !matches!(statement, Statement::Query(_)) {
            return false;
        }
        let mut reads = Reads::default();
        let _ = statement.visit(&mut reads);
        if reads.relations.is_empty() {
            or_nothing || reads.catalogue_function
        } else {
            reads.relations.iter().all(in_catalogue)
        }
    };
    if !(reads_catalogue(original, false) && reads_catalogue(&rewritten, true)) {
        return None;
    }
    let mut rewritten = rewritten;
    let _ = VisitMut::visit(&mut rewritten, &mut Planned);
    Some(CatalogueStatement(rewritten))
}

/// Rewrites what clients ask of the catalogue into what DataFusion plans:
/// - `ARRAY(subquery)` becomes an empty list of text: in the catalogue it only ever
///   gathers options (`reloptions`), which no table of a workspace has;
/// - a scalar subquery answering one value per row of the catalogue (a column's
///   default, its collation) is aggregated with `max`, which DataFusion requires of
///   correlated subqueries and which changes nothing of at most one row;
/// - a `CASE` result holding a subquery, which DataFusion cannot plan, is NULL: those
///   describe column defaults, identity sequences and collations (SQLAlchemy's
///   inspector), which no table of a workspace has;
/// - `LIKE 'pattern' ESCAPE 'c'` is written with DataFusion's only escape, `\`.
struct Planned;

impl VisitorMut for Planned {
    type Break = ();

    /// A column rewritten below keeps its name (clients read results by name).
    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_mut() {
            for item in &mut select.projection {
                if let SelectItem::UnnamedExpr(SqlExpr::CompoundIdentifier(idents)) = item
                    && let Some(last) = idents.last().cloned()
                    && last.value.eq_ignore_ascii_case("reloptions")
                {
                    *item = SelectItem::ExprWithAlias {
                        expr: SqlExpr::CompoundIdentifier(idents.clone()),
                        alias: last,
                    };
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<()> {
        // Storage options (psql's `\d+`), which no table of a workspace has.
        if let SqlExpr::CompoundIdentifier(idents) = expr
            && idents
                .last()
                .is_some_and(|i| i.value.eq_ignore_ascii_case("reloptions"))
            && let Ok(empty) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql("CAST(NULL AS TEXT[])")
                .and_then(|mut p| p.parse_expr())
        {
            *expr = empty;
            return ControlFlow::Continue(());
        }
        if let SqlExpr::Like {
            pattern,
            escape_char,
            ..
        }
        | SqlExpr::ILike {
            pattern,
            escape_char,
            ..
        } = expr
            && let Some(escape) = escape_char
                .as_ref()
                .and_then(|v| v.value.clone().into_string())
            && let Some(escape) = single_char(&escape)
            && escape != '\\'
            && let Ok(written) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&backslashed(pattern, escape))
                .and_then(|mut p| p.parse_expr())
        {
            **pattern = written;
            *escape_char = None;
            return ControlFlow::Continue(());
        }
        if let SqlExpr::Case {
            conditions,
            else_result,
            ..
        } = expr
        {
            let null = || SqlExpr::Value(Value::Null.into());
            for when in conditions.iter_mut() {
                if holds_subquery(&when.result) {
                    when.result = null();
                }
            }
            if let Some(other) = else_result
                && holds_subquery(other)
            {
                **other = null();
            }
            return ControlFlow::Continue(());
        }
        if let SqlExpr::Subquery(query) = expr
            && query.order_by.is_none()
            && query.limit_clause.is_none()
            && let SetExpr::Select(select) = query.body.as_mut()
            && select.projection.len() == 1
            && select.distinct.is_none()
            && select.having.is_none()
            && matches!(select.group_by, GroupByExpr::Expressions(ref e, _) if e.is_empty())
        {
            let item = &mut select.projection[0];
            let inner = match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
                _ => return ControlFlow::Continue(()),
            };
            if !calls_an_aggregate(inner)
                && let Ok(max) = Parser::new(&PostgreSqlDialect {})
                    .try_with_sql(&format!("max({inner})"))
                    .and_then(|mut p| p.parse_expr())
            {
                *inner = max;
            }
            return ControlFlow::Continue(());
        }
        if let SqlExpr::Function(f) = expr
            && matches!(f.args, FunctionArguments::Subquery(_))
            && parts(&f.name).as_slice() == ["array"]
            && let Ok(empty) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql("CAST(NULL AS TEXT[])")
                .and_then(|mut p| p.parse_expr())
        {
            *expr = empty;
        }
        ControlFlow::Continue(())
    }
}

/// Relations (common table expressions in scope aside) and functions a statement
/// names.
#[derive(Default)]
struct Reads {
    relations: Vec<ObjectName>,
    /// The names each enclosing query's `WITH` defines, innermost last.
    ctes: Vec<BTreeSet<String>>,
    catalogue_function: bool,
}

impl Visitor for Reads {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let defined = query.with.iter().flat_map(|with| {
            with.cte_tables
                .iter()
                .map(|cte| cte.alias.name.value.to_lowercase())
        });
        self.ctes.push(defined.collect());
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.ctes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        let in_scope = match parts(relation).as_slice() {
            [name] => self.ctes.iter().any(|defined| defined.contains(name)),
            _ => false,
        };
        if !in_scope {
            self.relations.push(relation.clone());
        }
        ControlFlow::Continue(())
    }

    /// Table functions (`unnest(...)`, `generate_series(...)`) read no relation of
    /// their own (their arguments are visited as expressions): not counted.
    fn post_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name,
            args: Some(_),
            ..
        } = factor
            && let Some(position) = self.relations.iter().rposition(|r| r == name)
        {
            self.relations.remove(position);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &SqlExpr) -> ControlFlow<()> {
        if let SqlExpr::Function(f) = expr {
            let parts = parts(&f.name);
            let name = parts.last().map(String::as_str).unwrap_or("");
            let qualified = parts.len() > 1 && parts[0] == "pg_catalog";
            if qualified || is_catalogue_function(name) {
                self.catalogue_function = true;
            }
        }
        ControlFlow::Continue(())
    }
}

fn single_char(text: &str) -> Option<char> {
    let mut chars = text.chars();
    let first = chars.next()?;
    chars.next().is_none().then_some(first)
}

/// The SQL of `pattern` (a LIKE pattern whose escape character is `escape`), written
/// with `\` as its escape instead: its own backslashes doubled, then each `escape` and
/// the character it escapes turned into `\` and that character. The pattern may be a
/// literal or a bound parameter (SQLAlchemy binds them).
fn backslashed(pattern: &SqlExpr, escape: char) -> String {
    // The escape as a one-character class (`\<` would be a word boundary).
    let escape = match escape {
        ']' | '\\' | '^' | '-' | '[' => format!("[\\{escape}]"),
        '\'' => "['']".to_owned(),
        other => format!("[{other}]"),
    };
    format!(r"regexp_replace(replace(({pattern}), '\', '\\'), '(?s){escape}(.)', '\${{1}}', 'g')")
}

/// Whether `expr` calls an aggregate or window function anywhere (its own subqueries
/// included: then it is left as written).
fn calls_an_aggregate(expr: &SqlExpr) -> bool {
    struct Finds;
    impl Visitor for Finds {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &SqlExpr) -> ControlFlow<()> {
            match expr {
                SqlExpr::Function(f)
                    if f.over.is_some()
                        || matches!(
                            parts(&f.name).last().map(String::as_str),
                            Some(
                                "max"
                                    | "min"
                                    | "count"
                                    | "sum"
                                    | "avg"
                                    | "array_agg"
                                    | "string_agg"
                                    | "bool_and"
                                    | "bool_or"
                                    | "every"
                            )
                        ) =>
                {
                    ControlFlow::Break(())
                }
                _ => ControlFlow::Continue(()),
            }
        }
    }
    expr.visit(&mut Finds).is_break()
}

/// Whether `expr` holds a subquery, at any depth.
fn holds_subquery(expr: &SqlExpr) -> bool {
    struct Finds;
    impl Visitor for Finds {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &SqlExpr) -> ControlFlow<()> {
            match expr {
                SqlExpr::Subquery(_) | SqlExpr::Exists { .. } | SqlExpr::InSubquery { .. } => {
                    ControlFlow::Break(())
                }
                _ => ControlFlow::Continue(()),
            }
        }
    }
    expr.visit(&mut Finds).is_break()
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .filter_map(|p| p.as_ident())
        .map(|i| i.value.to_lowercase())
        .collect()
}

/// Whether `name` is a relation of the catalogue: in its schemas, or one of
/// `pg_catalog`'s tables named alone (which PostgreSQL finds on every search path).
fn in_catalogue(name: &ObjectName) -> bool {
    match parts(name).as_slice() {
        [table] => PG_CATALOG_TABLES.contains(&table.as_str()),
        // DataFusion's own settings are not the client's to read.
        [.., _, table] if table == "df_settings" => false,
        [.., schema, _] => CATALOGUE_SCHEMAS.contains(&schema.as_str()),
        [] => false,
    }
}

/// Functions the catalogue session registers beyond the workspace's (`pg_*` and
/// `has_*` aside): what clients call on the catalogue's rows.
const CATALOGUE_FUNCTIONS: &[&str] = &[
    "array_upper",
    "array_lower",
    "parse_ident",
    "json_build_object",
    "unnest",
];

/// Functions that tell about the catalogue or the session, never about data.
fn is_catalogue_function(name: &str) -> bool {
    name.starts_with("pg_")
        || name.starts_with("has_")
        || matches!(
            name,
            "version"
                | "current_schema"
                | "current_schemas"
                | "current_database"
                | "current_user"
                | "session_user"
                | "current_setting"
                | "format_type"
                | "obj_description"
                | "col_description"
                | "shobj_description"
                | "quote_ident"
                | "to_regtype"
                | "to_regclass"
        )
}

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

    /// The columns `statement` answers and its placeholders' types.
    pub async fn describe(&self, statement: &CatalogueStatement) -> Result<Described> {
        let plan = self.within_time(self.plan(statement)).await??;
        Described::of(&plan).map_err(invalid)
    }

    /// Answers `statement` with `params` bound, within the limits.
    pub async fn run(&self, statement: &CatalogueStatement, params: ParamValues) -> Result<Answer> {
        let started = std::time::Instant::now();
        let limits = &self.limits;
        let execute = async {
            let plan = self.plan(statement).await?;
            let plan = plan.with_param_values(params).map_err(invalid)?;
            let frame = self.ctx.execute_logical_plan(plan).await.map_err(invalid)?;
            let mut stream = frame.execute_stream().await.map_err(invalid)?;
            crate::run::collect(
                &mut stream,
                limits.max_rows,
                "select fewer columns or rows of the catalogue",
                invalid,
            )
            .await
        };
        let (schema, batches, rows, truncated) = self.within_time(execute).await??;
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

    async fn plan(&self, statement: &CatalogueStatement) -> Result<LogicalPlan> {
        let state = self.ctx.state();
        let plan = state
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
        // The workspace's functions, and the catalogue's own: none that makes a value
        // of any size, and the growing ones bounded, as in the workspace.
        crate::functions::check_with(&plan, |name| {
            is_catalogue_function(name) || CATALOGUE_FUNCTIONS.contains(&name)
        })?;
        crate::functions::cap(plan)
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

/// `col_description(table oid, column number)`: the column's comment, or NULL.
fn col_description(comments: HashMap<(i32, i32), String>) -> ScalarUDF {
    let comments = Arc::new(comments);
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        "col_description",
        Signature::any(2, Volatility::Stable),
        DataType::Utf8,
        Arc::new(move |args: &[ColumnarValue]| {
            let args = ColumnarValue::values_to_arrays(args)?;
            let oids = datafusion::arrow::compute::cast(&args[0], &DataType::Int32)?;
            let positions = datafusion::arrow::compute::cast(&args[1], &DataType::Int32)?;
            let (oids, positions) = (
                oids.as_primitive::<Int32Type>(),
                positions.as_primitive::<Int32Type>(),
            );
            let texts: StringArray = oids
                .iter()
                .zip(positions.iter())
                .map(|(o, n)| Some(comments.get(&(o?, n?))?.clone()))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(texts) as ArrayRef))
        }),
    ))
}

/// A function of any arguments whose value is NULL of one type: the definition or
/// comment of objects the workspace has none of (functions, views, indexes, triggers,
/// rules), the id of a type it does not hold.
#[derive(Debug, PartialEq, Eq, Hash)]
struct NullOf {
    name: String,
    signature: Signature,
    returns: DataType,
}

impl NullOf {
    fn new(name: &str, returns: DataType) -> Self {
        Self {
            name: name.to_owned(),
            signature: Signature::variadic_any(Volatility::Immutable),
            returns,
        }
    }
}

impl ScalarUDFImpl for NullOf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> datafusion::error::Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from(&self.returns)?))
    }
}

/// The session settings clients read (`SHOW`, `current_setting`), in lower case, and
/// their values: fixed, the ones the endpoint speaks by (UTF-8, ISO dates, UTC,
/// read-only).
pub const SESSION_SETTINGS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("bytea_output", "hex"),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("default_transaction_isolation", "read committed"),
    ("default_transaction_read_only", "on"),
    ("extra_float_digits", "1"),
    ("integer_datetimes", "on"),
    ("intervalstyle", "postgres"),
    ("is_superuser", "off"),
    ("lc_collate", "C"),
    ("lc_ctype", "C"),
    ("max_identifier_length", "63"),
    ("search_path", "public"),
    ("server_encoding", "UTF8"),
    ("server_version", "16.6"),
    ("server_version_num", "160006"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("timezone", "UTC"),
    ("transaction_isolation", "read committed"),
    ("transaction_read_only", "on"),
];

/// `current_setting(name [, missing_ok])`: a setting of [`SESSION_SETTINGS`], NULL for
/// any other.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSetting {
    signature: Signature,
}

impl CurrentSetting {
    fn new() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let value = |name: &str| {
            let name = name.to_lowercase();
            SESSION_SETTINGS
                .iter()
                .find(|(setting, _)| *setting == name)
                .map(|(_, value)| (*value).to_owned())
        };
        match args.args.first() {
            Some(ColumnarValue::Scalar(name)) => {
                let name = name.cast_to(&DataType::Utf8)?;
                let ScalarValue::Utf8(name) = name else {
                    return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)));
                };
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8(
                    name.as_deref().and_then(value),
                )))
            }
            Some(ColumnarValue::Array(names)) => {
                let names = datafusion::arrow::compute::cast(names, &DataType::Utf8)?;
                let values: StringArray = names
                    .as_string::<i32>()
                    .iter()
                    .map(|name| value(name?))
                    .collect();
                Ok(ColumnarValue::Array(Arc::new(values)))
            }
            None => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
        }
    }
}

/// `name(oid)`: whether an object is on the search path; every object the catalogue
/// lists is.
fn visible_udf(name: &str) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|_: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))),
    )
}

/// A function of no argument whose value is `text`.
fn text_udf(name: &str, text: &'static str) -> ScalarUDF {
    create_udf(
        name,
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                text.to_owned(),
            ))))
        }),
    )
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
        let answer = catalogue.run(&statement, ParamValues::List(vec![])).await?;
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

    #[test]
    fn like_patterns_with_another_escape_are_written_with_a_backslash() {
        let statement = catalogue_statement(
            "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE $1 ESCAPE '/'",
        )
        .unwrap();
        let written = statement.0.to_string();
        assert!(
            written.contains(
                r"NOT LIKE regexp_replace(replace(($1), '\', '\\'), '(?s)[/](.)', '\${1}', 'g')"
            ),
            "{written}"
        );
    }

    #[test]
    fn statements_reading_only_the_catalogue_are_told_from_the_others() {
        let catalogue = |sql| catalogue_statement(sql).is_some();
        assert!(catalogue(
            "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE pg_catalog.pg_table_is_visible(c.oid)"
        ));
        assert!(catalogue(
            "SELECT table_name FROM information_schema.tables"
        ));
        assert!(catalogue(
            "WITH t AS (SELECT relname FROM pg_catalog.pg_class) SELECT * FROM t"
        ));
        assert!(catalogue("SELECT pg_class.relname FROM pg_class"));
        assert!(catalogue("SELECT version()"));
        assert!(catalogue("select current_schema()"));
        assert!(catalogue(
            "SELECT pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ') FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)"
        ));
        assert!(!catalogue("SELECT * FROM generate_series(1, 3)"));
        assert!(!catalogue(
            "SELECT * FROM pg_catalog.pg_class, unnest((SELECT array_agg(ben_sex_cod) FROM ir_ben_r))"
        ));
        // Anything naming a workspace table, or nothing of the catalogue, is not.
        assert!(!catalogue("SELECT count(*) FROM ir_ben_r"));
        assert!(!catalogue("SELECT * FROM pg_catalog.pg_class, ir_ben_r"));
        assert!(!catalogue(
            "SELECT relname FROM pg_catalog.pg_class WHERE relname IN (SELECT ben_sex_cod FROM ir_ben_r)"
        ));
        assert!(!catalogue("SELECT * FROM public.pg_class"));
        assert!(!catalogue("SELECT 1"));
        assert!(!catalogue(
            "SELECT 1 FROM pg_catalog.pg_class; SELECT 2 FROM pg_catalog.pg_class"
        ));
        assert!(!catalogue("DROP TABLE pg_catalog.pg_class"));
        // A common table expression hides a table of its name only where it is in
        // scope.
        assert!(!catalogue(
            "SELECT * FROM pg_catalog.pg_class, (WITH ir_ben_r AS (SELECT 1) SELECT 1) q, ir_ben_r"
        ));
        assert!(!catalogue("SELECT * FROM information_schema.df_settings"));
        let long = format!(
            "SELECT 1 FROM pg_catalog.pg_class WHERE 0 = {}",
            vec!["1"; 20_000].join("+")
        );
        assert!(!catalogue(&long));
        // psql's question about row security policies, which the rewrites answer
        // with a constant statement, is still the catalogue's.
        assert!(catalogue(
            "SELECT pol.polname, pol.polpermissive, CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END, pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid), CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' END AS cmd FROM pg_catalog.pg_policy pol WHERE pol.polrelid = '16386' ORDER BY 1;"
        ));
    }
}
