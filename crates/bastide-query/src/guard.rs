//! The SQL guard: what a researcher may send, decided on the parsed statement before
//! DataFusion plans anything. Only one read query runs per call: `SELECT`, `WITH …
//! SELECT`, `VALUES`, set operations of those, and `EXPLAIN` of one. Everything else is
//! refused with the construct named. DataFusion's own `SQLOptions` (no DDL, no DML, no
//! statements) stand behind this as a second wall, and the session the query runs in
//! holds nothing but the permit's views.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use datafusion::common::format::ExplainStatementOptions;
use datafusion::error::DataFusionError;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArguments, ObjectName, Query, SetExpr, Statement, TableFactor, Visit, Visitor,
    visit_relations,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::ParserError;

use crate::{Error, Result};

/// Longest query text accepted: every query's text is in its audit events, whose
/// details hold at most 64 KiB.
pub const MAX_SQL_BYTES: usize = 60_000;

/// Table functions a query may call: they make rows from their arguments and read
/// nothing.
const TABLE_FUNCTIONS: &[&str] = &["generate_series", "range"];

/// Scalar functions refused: each makes a value of any size from a small input, and
/// values do not count against the memory limit.
const AMPLIFIERS: &[&str] = &["repeat", "lpad", "rpad", "array_repeat", "overlay"];

const EXPLAIN_OPTIONS: &str = "EXPLAIN VERBOSE (or with options)";
const PLAIN_EXPLAIN: &str =
    "use EXPLAIN without options: it shows the plan's shape, never statistics or values";

const READ_ONLY: &str = "only one SELECT (or WITH … SELECT, or EXPLAIN of one) runs at a time";

/// A statement the guard let through: only [`check`] makes one, so a workspace
/// never plans a statement the guard has not seen.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The statement, parsed once.
    pub(crate) statement: DfStatement,
    /// The tables it names (as SQL folds them: unquoted names in lower case); only
    /// these need a view.
    relations: BTreeSet<String>,
    /// Whether it is an `EXPLAIN`.
    pub(crate) explain: bool,
}

impl Checked {
    /// The tables it names (as SQL folds them: unquoted names in lower case); only
    /// these need a view.
    pub fn relations(&self) -> &BTreeSet<String> {
        &self.relations
    }
}

/// Most binary operators one statement may hold. A chain of them (`1+1+…`, `a=1 OR
/// a=2 OR …`) parses into a tree as deep as it is long, which every later step (the
/// rewrites, the planner, freeing it) walks recursively: past this, a statement could
/// exhaust a thread's stack and abort the hub, so it is refused before it is parsed.
pub const MAX_OPERATORS: usize = 5_000;

/// The operators of `sql`, counted on its tokens (no tree is built): every token but
/// names, literals, placeholders and punctuation (`,`, `.`, `;`, brackets), and every
/// keyword that joins two expressions (`AND`, `OR`, `IS`, `LIKE`, `IN`, …). Counting
/// what is not known to be harmless keeps an operator the list forgot (`#`, `@>`,
/// `~~`) from building a deep tree uncounted.
pub fn operators(sql: &str) -> usize {
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return 0;
    };
    tokens
        .iter()
        .filter(|t| match t {
            Token::Word(w) => matches!(
                w.keyword,
                Keyword::AND
                    | Keyword::OR
                    | Keyword::XOR
                    | Keyword::NOT
                    | Keyword::IS
                    | Keyword::LIKE
                    | Keyword::ILIKE
                    | Keyword::SIMILAR
                    | Keyword::IN
                    | Keyword::BETWEEN
                    | Keyword::AT
                    | Keyword::COLLATE
                    | Keyword::OVERLAPS
                    | Keyword::DIV
                    | Keyword::REGEXP
                    | Keyword::RLIKE
                    | Keyword::MEMBER
                    | Keyword::ESCAPE
            ),
            Token::Whitespace(_)
            | Token::Comma
            | Token::Period
            | Token::SemiColon
            | Token::LParen
            | Token::RParen
            | Token::LBracket
            | Token::RBracket
            | Token::LBrace
            | Token::RBrace
            | Token::Number(..)
            | Token::Char(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Placeholder(_)
            | Token::EOF => false,
            _ => true,
        })
        .count()
}

/// Parses `sql` and lets through a single read query, or says what is refused.
pub fn check(sql: &str) -> Result<Checked> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(refused(
            format!("a query of {} bytes", sql.len()),
            "queries are limited to 60 kB",
        ));
    }
    let operators = operators(sql);
    if operators > MAX_OPERATORS {
        return Err(refused(
            format!("a query of {operators} operators"),
            "queries are limited to 5000 operators; write long lists of values as IN (...), and long sums as aggregates",
        ));
    }
    let mut statements =
        DFParser::parse_sql_with_dialect(sql, &PostgreSqlDialect {}).map_err(syntax)?;
    let statement = match (statements.pop_front(), statements.len()) {
        (Some(statement), 0) => statement,
        (None, _) => return Err(refused("an empty query", READ_ONLY)),
        (Some(_), more) => {
            return Err(refused(
                format!("{} statements in one query", more + 1),
                READ_ONLY,
            ));
        }
    };
    let explain = read_only(&statement)?;
    written_out(&statement)?;
    let mut names = BTreeSet::new();
    relations(&statement, &mut names);
    Ok(Checked {
        statement,
        relations: names,
        explain,
    })
}

/// Refuses `statement` when its CTEs, written out where they are named, would make
/// it read more than [`crate::ctes::MOST_READS`] tables (see [`crate::ctes`]).
pub(crate) fn written_out(statement: &DfStatement) -> Result<()> {
    let reads = match statement {
        DfStatement::Statement(inner) => crate::ctes::reads(inner.as_ref()),
        DfStatement::Explain(explain) => return written_out(&explain.statement),
        _ => 0,
    };
    if reads > crate::ctes::MOST_READS {
        return Err(refused(
            format!(
                "a query reading more than {} tables once its WITH clauses are written out where they are named",
                crate::ctes::MOST_READS
            ),
            "name each common table expression fewer times, or aggregate in fewer steps",
        ));
    }
    Ok(())
}

/// Adds the tables `statement` names to `names`.
fn relations(statement: &DfStatement, names: &mut BTreeSet<String>) {
    match statement {
        DfStatement::Statement(inner) => {
            let _ = visit_relations(inner.as_ref(), |relation| {
                names.extend(crate::ctes::folded(relation));
                ControlFlow::<()>::Continue(())
            });
        }
        DfStatement::Explain(explain) => relations(&explain.statement, names),
        _ => {}
    }
}

/// Whether `statement` is an `EXPLAIN`; refuses anything but a guarded read query.
fn read_only(statement: &DfStatement) -> Result<bool> {
    match statement {
        DfStatement::Statement(inner) => match inner.as_ref() {
            Statement::Query(query) => {
                guard_query(query)?;
                Ok(false)
            }
            Statement::Explain {
                analyze,
                verbose,
                format,
                options,
                statement,
                ..
            } => {
                if *analyze {
                    return Err(refused("EXPLAIN ANALYZE", "use EXPLAIN without ANALYZE"));
                }
                if *verbose || format.is_some() || options.is_some() {
                    return Err(refused(EXPLAIN_OPTIONS, PLAIN_EXPLAIN));
                }
                match statement.as_ref() {
                    Statement::Query(query) => guard_query(query).map(|()| true),
                    other => Err(refused(kind(other), READ_ONLY)),
                }
            }
            other => Err(refused(kind(other), READ_ONLY)),
        },
        DfStatement::Explain(explain) => {
            if explain.options.analyze {
                return Err(refused("EXPLAIN ANALYZE", "use EXPLAIN without ANALYZE"));
            }
            // VERBOSE and the statistics options print the files' statistics: row
            // counts before the permit's filters, minimum and maximum values.
            let plain = ExplainStatementOptions {
                analyze: false,
                ..Default::default()
            };
            if explain.options != plain {
                return Err(refused(EXPLAIN_OPTIONS, PLAIN_EXPLAIN));
            }
            read_only(&explain.statement).map(|_| true)
        }
        DfStatement::CreateExternalTable(_) => Err(refused("CREATE EXTERNAL TABLE", READ_ONLY)),
        DfStatement::CopyTo(_) => Err(refused("COPY", READ_ONLY)),
        DfStatement::Reset(_) => Err(refused("RESET", READ_ONLY)),
    }
}

/// Walks every part of a query: relations, table factors, expressions, subqueries.
fn guard_query(query: &Query) -> Result<()> {
    match query.visit(&mut Guard) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

struct Guard;

impl Visitor for Guard {
    type Break = Error;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Error> {
        if query.with.as_ref().is_some_and(|w| w.recursive) {
            return ControlFlow::Break(refused(
                "WITH RECURSIVE",
                "write the query without recursion",
            ));
        }
        if !query.locks.is_empty() {
            return ControlFlow::Break(refused("FOR UPDATE / FOR SHARE", READ_ONLY));
        }
        if query.for_clause.is_some() || query.format_clause.is_some() || query.settings.is_some() {
            return ControlFlow::Break(refused("FOR / FORMAT / SETTINGS clauses", READ_ONLY));
        }
        if !query.pipe_operators.is_empty() {
            return ControlFlow::Break(refused("pipe operators", READ_ONLY));
        }
        set_expr(&query.body)
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<Error> {
        let name = relation.to_string();
        let path =
            name.contains(['/', ':', '\\', '\'']) || (relation.0.len() == 1 && name.contains('.'));
        if path {
            return ControlFlow::Break(refused(
                format!("the file path {name}"),
                "files cannot be read from the workspace; read the tables of your permit",
            ));
        }
        if relation.0.len() > 1 {
            return ControlFlow::Break(refused(
                format!("the qualified name {relation}"),
                "refer to the tables of your permit by their bare names",
            ));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<Error> {
        let function = match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => name.to_string(),
            TableFactor::TableFunction { expr, .. } => expr.to_string(),
            TableFactor::JsonTable { .. } | TableFactor::OpenJsonTable { .. } => {
                "JSON_TABLE".to_owned()
            }
            TableFactor::XmlTable { .. } => "XMLTABLE".to_owned(),
            _ => return ControlFlow::Continue(()),
        };
        if TABLE_FUNCTIONS.contains(&function.to_lowercase().as_str()) {
            return ControlFlow::Continue(());
        }
        ControlFlow::Break(refused(
            format!("the table function {function}"),
            "only generate_series and range make rows; read data from the tables of your permit",
        ))
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Error> {
        let Expr::Function(function) = expr else {
            return ControlFlow::Continue(());
        };
        if function.name.0.len() > 1 {
            return ControlFlow::Break(refused(
                format!("the qualified function {}", function.name),
                "call functions by their bare names",
            ));
        }
        let name = function.name.to_string().to_lowercase();
        if AMPLIFIERS.contains(&name.as_str()) {
            return ControlFlow::Break(refused(
                format!("the function {name}"),
                "it can make values of any size, which no memory limit bounds",
            ));
        }
        if let FunctionArguments::Subquery(query) = &function.args {
            return match guard_query(query) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => ControlFlow::Break(e),
            };
        }
        ControlFlow::Continue(())
    }
}

/// Refuses the parts of a query body that are not reads.
fn set_expr(body: &SetExpr) -> ControlFlow<Error> {
    match body {
        SetExpr::Select(select) if select.into.is_some() => {
            ControlFlow::Break(refused("SELECT … INTO", READ_ONLY))
        }
        SetExpr::Insert(_) => ControlFlow::Break(refused("INSERT", READ_ONLY)),
        SetExpr::Update(_) => ControlFlow::Break(refused("UPDATE", READ_ONLY)),
        SetExpr::Delete(_) => ControlFlow::Break(refused("DELETE", READ_ONLY)),
        SetExpr::Merge(_) => ControlFlow::Break(refused("MERGE", READ_ONLY)),
        SetExpr::Table(table) => ControlFlow::Break(refused(
            format!("TABLE {}", table.table_name.as_deref().unwrap_or("")),
            "write SELECT * FROM the table",
        )),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr(left)?;
            set_expr(right)
        }
        _ => ControlFlow::Continue(()),
    }
}

/// A statement's kind as the user wrote it: its first keywords.
fn kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    let keep = match words.as_slice() {
        [first, second, ..]
            if matches!(
                first.to_uppercase().as_str(),
                "CREATE" | "DROP" | "ALTER" | "SHOW" | "GRANT" | "REVOKE"
            ) =>
        {
            if matches!(
                second.to_uppercase().as_str(),
                "OR" | "TEMPORARY" | "TEMP" | "EXTERNAL" | "UNIQUE"
            ) {
                3
            } else {
                2
            }
        }
        _ => 1,
    };
    words
        .iter()
        .take(keep)
        .map(|w| w.to_uppercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The parser's own message, which names the line and column.
fn syntax(e: DataFusionError) -> Error {
    let message = match &e {
        DataFusionError::SQL(parser, _) => match parser.as_ref() {
            ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
            ParserError::RecursionLimitExceeded => "the query nests too deeply".to_owned(),
        },
        other => other.to_string(),
    };
    Error::Syntax { message }
}

fn refused(construct: impl Into<String>, hint: &'static str) -> Error {
    Error::Refused {
        construct: construct.into(),
        hint,
    }
}
