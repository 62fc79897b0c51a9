//! Which statements are the catalogue's, and how they are rewritten for DataFusion:
//! [`catalogue_statement`] judges a client's statement as written and as rewritten by
//! `datafusion-pg-catalog`'s parser, and [`Planned`] rewrites what DataFusion cannot
//! plan.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::LazyLock;

use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArguments, GroupByExpr, ObjectName, Query, SelectItem, SetExpr,
    Statement, TableFactor, Value, Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_pg_catalog::pg_catalog::PG_CATALOG_TABLES;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;

/// The schemas a catalogue statement may read.
const CATALOGUE_SCHEMAS: [&str; 2] = ["pg_catalog", "information_schema"];

/// The longest catalogue statement (SQLAlchemy's longest is about 4 kB).
const MOST_CATALOGUE_BYTES: usize = 16 << 10;

/// The most binary operators of a catalogue statement (see
/// [`crate::guard::MAX_OPERATORS`]; clients' statements hold a few dozen).
const MOST_CATALOGUE_OPERATORS: usize = 500;

/// A statement that reads the catalogue only, rewritten for DataFusion.
#[derive(Debug, Clone)]
pub struct CatalogueStatement(pub(super) Statement);

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
    // A statement whose CTEs would plan into a huge tree goes to the workspace's guard,
    // which refuses it (see `crate::ctes`).
    if crate::ctes::reads(&rewritten) > crate::ctes::MOST_READS {
        return None;
    }
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
pub(super) struct Planned;

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
pub(super) const CATALOGUE_FUNCTIONS: &[&str] = &[
    "array_upper",
    "array_lower",
    "parse_ident",
    "json_build_object",
    "unnest",
];

/// Functions that tell about the catalogue or the session, never about data.
pub(super) fn is_catalogue_function(name: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
