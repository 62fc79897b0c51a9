//! Statements over the wire, simple and extended protocol alike: each read query goes
//! to [`Hub::query`] (Parse/Describe to [`Hub::describe`]); statements reading only
//! `pg_catalog` and `information_schema` (clients listing tables and columns) to the
//! workspace's catalogue ([`Hub::workspace_catalogue`]), which holds no data; the
//! transaction and client settings statements that drivers send on their own are
//! answered without effect, and `SHOW` from the fixed settings of [`super::settings`].

use std::fmt::Debug;
use std::sync::Arc;

use arrow_pg::datatypes::df::deserialize_parameters;
use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch, into_pg_type};
use async_trait::async_trait;
use bastide_core::ids::ProjectId;
use bastide_query::catalogue::{Catalogue, CatalogueStatement, catalogue_statement};
use bastide_query::{Checked, Described};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ParamValues;
use futures::{Sink, SinkExt};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;

use super::errors::{client as client_error, fatal, internal};
use super::startup::Session;
use bastide_hub::{
    Answered, Caller, Channel, Client, Destination, Door, Hub, Origin, Prepared, QueryFailure,
    QueryRequest,
};

/// Client settings drivers send on connecting; accepted and ignored (they change
/// nothing in the workspace).
const CLIENT_SETTINGS: &[&str] = &[
    "application_name",
    "client_encoding",
    "datestyle",
    "extra_float_digits",
    "intervalstyle",
    "search_path",
    "timezone",
    "time zone",
];

/// What a statement is, decided from its first words.
#[derive(Debug, Clone)]
enum Kind {
    /// A query for the workspace.
    Query,
    /// A query of the catalogue only, rewritten for it.
    Catalogue(Box<CatalogueStatement>),
    /// `SHOW` of a session setting (answered from the fixed settings).
    Show(String),
    /// `BEGIN`, `COMMIT` or `ROLLBACK` (reads need no transaction: answered only).
    Transaction(&'static str),
    /// A client setting (answered only).
    Setting,
}

/// A parsed statement of the extended protocol.
#[derive(Debug, Clone)]
pub(super) struct WireStatement {
    sql: String,
    kind: Kind,
    /// What a query answers, its placeholders' types, and the statement as the hub
    /// parsed and guarded it, run at Execute without parsing it again (none for the
    /// others).
    prepared: Option<Prepared>,
    /// What a catalogue statement or a `SHOW` answers.
    described: Option<Described>,
}

/// The query handlers.
pub(super) struct WireQueries {
    parser: Arc<WireParser>,
}

/// Plans statements at Parse, for Describe.
pub(super) struct WireParser {
    hub: Arc<Hub>,
}

impl WireQueries {
    pub(super) fn new(hub: Arc<Hub>) -> Self {
        Self {
            parser: Arc::new(WireParser { hub }),
        }
    }
}

/// Who asks, for what project, from where.
struct Connection {
    caller: Caller,
    project: ProjectId,
    client: Client,
}

impl WireParser {
    /// The caller of this connection, its token checked again now.
    async fn caller<C: ClientInfo + ?Sized>(&self, client: &C) -> PgWireResult<Connection> {
        let session = session(client)?;
        let ip = client.socket_addr().ip();
        let origin = Origin {
            request_id: None,
            client: Some(ip),
        };
        let caller = match self
            .hub
            .recheck(Door::Wire, &session.token_id, origin)
            .await
        {
            Ok(caller) => caller,
            Err(bastide_hub::Error::Access(bastide_access::Error::Auth(e))) => {
                return Err(fatal(
                    "28000",
                    format!("{e}; connect again with a valid token"),
                ));
            }
            Err(e) => return Err(internal(e)),
        };
        Ok(Connection {
            caller,
            project: session.project.clone(),
            client: Client::Remote(ip),
        })
    }

    /// The catalogue of the connection's workspace, the permit checked now: the
    /// connection's own while the tables it lists stay the same. The hub's listing
    /// comes with it, holding the caller's place among their running statements.
    async fn catalogue<C: ClientInfo + ?Sized>(
        &self,
        client: &C,
        sql: &str,
    ) -> PgWireResult<(Arc<Catalogue>, bastide_hub::WorkspaceCatalogue)> {
        let caller = self.caller(client).await?;
        let listed = self
            .hub
            .workspace_catalogue(&caller.caller, &caller.project, caller.client, sql)
            .await
            .map_err(error)?;
        let session = session(client)?;
        let mut kept = session.catalogue.lock().await;
        let catalogue = match kept.as_ref() {
            Some(catalogue) if catalogue.lists(&listed.tables) => catalogue.clone(),
            _ => {
                let fresh =
                    Catalogue::new(caller.project.as_str(), &listed.tables, &self.hub.limits())
                        .await
                        .map_err(|e| error(e.into()))?;
                kept.insert(Arc::new(fresh)).clone()
            }
        };
        Ok((catalogue, listed))
    }

    /// Answers the catalogue statement `statement`.
    async fn read_catalogue<C: ClientInfo + ?Sized>(
        &self,
        client: &C,
        sql: &str,
        statement: &CatalogueStatement,
        params: ParamValues,
    ) -> PgWireResult<bastide_query::Answer> {
        let (catalogue, listed) = self.catalogue(client, sql).await?;
        catalogue
            .run(statement, params, listed)
            .await
            .map_err(|e| error(e.into()))
    }

    async fn run<C: ClientInfo + ?Sized>(
        &self,
        client: &C,
        sql: &str,
        params: ParamValues,
        prepared: Option<Arc<Checked>>,
    ) -> PgWireResult<Answered> {
        let caller = self.caller(client).await?;
        let cancelled = session(client)?.cancel.start_query().await;
        let request = QueryRequest {
            project: &caller.project,
            sql,
            params,
            channel: Channel::Wire,
            client: caller.client,
            destination: Destination::Shown,
            prepared,
        };
        let query = self.hub.query(&caller.caller, request);
        // Dropping the query on a CancelRequest cancels it (see `Hub::query`).
        tokio::select! {
            answered = query => answered.map_err(error),
            Ok(()) = cancelled => Err(error(bastide_query::Error::Cancelled.into())),
        }
    }
}

#[async_trait]
impl QueryParser for WireParser {
    type Statement = WireStatement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<WireStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let kind = kind(sql);
        let (mut prepared, mut described) = (None, None);
        match &kind {
            Kind::Query => {
                let caller = self.caller(client).await?;
                prepared = Some(
                    self.hub
                        .describe(&caller.caller, &caller.project, sql, caller.client)
                        .await
                        .map_err(error)?,
                );
            }
            Kind::Catalogue(statement) => {
                let (catalogue, listed) = self.catalogue(client, sql).await?;
                described = Some(
                    catalogue
                        .describe(statement, listed)
                        .await
                        .map_err(|e| error(e.into()))?,
                );
            }
            Kind::Show(name) => {
                described = Some(Described {
                    columns: super::settings::shown(name)?.schema(),
                    parameters: Vec::new(),
                });
            }
            Kind::Transaction(_) | Kind::Setting => {}
        }
        Ok(Some(WireStatement {
            sql: sql.to_owned(),
            kind,
            prepared,
            described,
        }))
    }

    fn get_parameter_types(&self, stmt: &WireStatement) -> PgWireResult<Vec<Type>> {
        let described = match (&stmt.prepared, &stmt.described) {
            (Some(Prepared { described, .. }), _) | (None, Some(described)) => described,
            (None, None) => return Ok(Vec::new()),
        };
        described
            .parameters
            .iter()
            .map(|t| match t {
                Some(t) => into_pg_type(t),
                None => Ok(Type::UNKNOWN),
            })
            .collect()
    }

    fn get_result_schema(
        &self,
        stmt: &WireStatement,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match (&stmt.prepared, &stmt.described) {
            (Some(Prepared { described, .. }), _) | (None, Some(described)) => {
                arrow_schema_to_pg_fields(
                    &described.columns,
                    format.unwrap_or(&Format::UnifiedText),
                    None,
                )
            }
            (None, None) => Ok(Vec::new()),
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for WireQueries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let response = match kind(query) {
            Kind::Query => {
                let answered = self
                    .parser
                    .run(&*client, query, no_parameters(), None)
                    .await?;
                notify(client, &answered).await?;
                rows(answered.answer, &Format::UnifiedText)?
            }
            Kind::Catalogue(statement) => {
                let answer = self
                    .parser
                    .read_catalogue(&*client, query, &statement, no_parameters())
                    .await?;
                rows(answer, &Format::UnifiedText)?
            }
            Kind::Show(name) => rows(shown(&name)?, &Format::UnifiedText)?,
            other => answer_only(&other),
        };
        Ok(vec![response])
    }
}

#[async_trait]
impl ExtendedQueryHandler for WireQueries {
    type Statement = WireStatement;
    type QueryParser = WireParser;

    fn query_parser(&self) -> Arc<WireParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<WireStatement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = WireStatement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement = &portal.statement.statement;
        match &statement.kind {
            Kind::Query => {
                let params = match &statement.prepared {
                    Some(Prepared { described, .. }) if !portal.parameters.is_empty() => {
                        bound(portal, described)?
                    }
                    _ => no_parameters(),
                };
                let parsed = statement.prepared.as_ref().map(|p| p.statement.clone());
                let answered = self
                    .parser
                    .run(&*client, &statement.sql, params, parsed)
                    .await?;
                notify(client, &answered).await?;
                rows(answered.answer, &portal.result_column_format)
            }
            Kind::Catalogue(catalogue) => {
                let params = match &statement.described {
                    Some(described) if !portal.parameters.is_empty() => bound(portal, described)?,
                    _ => no_parameters(),
                };
                let answer = self
                    .parser
                    .read_catalogue(&*client, &statement.sql, catalogue, params)
                    .await?;
                rows(answer, &portal.result_column_format)
            }
            Kind::Show(name) => rows(shown(name)?, &portal.result_column_format),
            other => Ok(answer_only(other)),
        }
    }
}

/// The values bound to `portal`, typed as `described`'s placeholders.
fn bound(portal: &Portal<WireStatement>, described: &Described) -> PgWireResult<ParamValues> {
    let types: Vec<Option<&DataType>> = described.parameters.iter().map(Option::as_ref).collect();
    // Decoding errors may quote the value: never shown.
    deserialize_parameters(portal, &types).map_err(|_| {
        client_error(
            "22023",
            "a value bound to the query does not fit its placeholder's type; bind numbers where the query compares numbers, text where it compares text".into(),
        )
    })
}

/// The answer to `SHOW name`.
fn shown(name: &str) -> PgWireResult<bastide_query::Answer> {
    let batch = super::settings::shown(name)?;
    Ok(bastide_query::Answer {
        schema: batch.schema(),
        rows: batch.num_rows(),
        batches: vec![batch],
        truncated: false,
        elapsed: std::time::Duration::ZERO,
        disclosure: None,
    })
}

/// The connection's login session.
fn session<C: ClientInfo + ?Sized>(client: &C) -> PgWireResult<Arc<Session>> {
    client
        .session_extensions()
        .get::<Session>()
        .ok_or_else(|| fatal("28000", "not logged in".into()))
}

/// What the statement is, from its first words.
fn kind(sql: &str) -> Kind {
    let text = sql.trim().trim_end_matches(';').to_lowercase();
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or("");
    let rest: Vec<&str> = words.collect();
    match first {
        "begin" | "start" => Kind::Transaction("BEGIN"),
        "commit" | "end" => Kind::Transaction("COMMIT"),
        // Savepoints (SQLAlchemy's nested transactions) mark nothing: reads need none.
        "rollback" if rest.first() == Some(&"to") => Kind::Transaction("ROLLBACK TO"),
        "rollback" | "abort" => Kind::Transaction("ROLLBACK"),
        "savepoint" => Kind::Transaction("SAVEPOINT"),
        "release" => Kind::Transaction("RELEASE"),
        "show" => Kind::Show(rest.join(" ")),
        "set" => {
            let words: Vec<&str> = rest
                .into_iter()
                .skip_while(|w| matches!(*w, "session" | "local"))
                .collect();
            let name = words
                .first()
                .and_then(|w| w.split('=').next())
                .unwrap_or("");
            if CLIENT_SETTINGS.contains(&name) || words.join(" ").starts_with("time zone") {
                Kind::Setting
            } else {
                Kind::Query
            }
        }
        _ => match catalogue_statement(sql) {
            Some(statement) => Kind::Catalogue(Box::new(statement)),
            None => Kind::Query,
        },
    }
}

fn no_parameters() -> ParamValues {
    ParamValues::List(Vec::new())
}

fn answer_only(kind: &Kind) -> Response {
    match kind {
        Kind::Transaction("BEGIN") => Response::TransactionStart(Tag::new("BEGIN")),
        Kind::Transaction("ROLLBACK TO") => Response::Execution(Tag::new("ROLLBACK")),
        Kind::Transaction(tag @ ("SAVEPOINT" | "RELEASE")) => Response::Execution(Tag::new(tag)),
        Kind::Transaction(tag) => Response::TransactionEnd(Tag::new(tag)),
        _ => Response::Execution(Tag::new("SET")),
    }
}

/// Tells the client what disclosure control withheld from the answer (a NOTICE, which
/// psql prints and drivers keep), before its rows.
async fn notify<C>(client: &mut C, answered: &Answered) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let Some(text) = answered
        .answer
        .disclosure
        .as_ref()
        .and_then(|d| d.summary())
    else {
        return Ok(());
    };
    let notice = ErrorInfo::new("NOTICE".into(), "01000".into(), text);
    client
        .send(PgWireBackendMessage::NoticeResponse(notice.into()))
        .await?;
    Ok(())
}

/// The answer's rows in the client's formats.
fn rows(answer: bastide_query::Answer, format: &Format) -> PgWireResult<Response> {
    let fields = Arc::new(arrow_schema_to_pg_fields(&answer.schema, format, None)?);
    let mut rows = Vec::with_capacity(answer.rows);
    for batch in answer.batches {
        rows.extend(encode_recordbatch(fields.clone(), batch));
    }
    Ok(Response::Query(QueryResponse::new(
        fields,
        futures::stream::iter(rows),
    )))
}

/// A failed query as a PostgreSQL error with its SQLSTATE: the hub's own failures are
/// internal (withheld by `errors::Masking`), the rest written for the client.
fn error(failure: QueryFailure) -> PgWireError {
    use bastide_query::Error as Q;
    let code = match &failure {
        QueryFailure::Denied(_) => "42501",
        QueryFailure::Query(e) => match e {
            Q::Syntax { .. } => "42601",
            Q::Invalid { message } => invalid(message),
            Q::Refused { .. } => "42501",
            Q::TimedOut { .. } | Q::Cancelled => "57014",
            Q::OutOfMemory { .. } => "53200",
            Q::Busy { .. } | Q::HubBusy => "53300",
            Q::Repeated { .. } => "54000",
            Q::Store(_) | Q::Internal(_) => return internal(failure),
        },
        QueryFailure::Hub(_) => return internal(failure),
    };
    client_error(code, failure.to_string())
}

/// The SQLSTATE of an invalid query, by what its message says.
fn invalid(message: &str) -> &'static str {
    if message == bastide_query::WITHHELD {
        "22000" // data_exception
    } else if message.contains("table") && message.contains("not found") {
        "42P01" // undefined_table
    } else if message.contains("No field named") {
        "42703" // undefined_column
    } else {
        "42000" // syntax_error_or_access_rule_violation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_queries_get_the_sqlstate_their_message_names() {
        assert_eq!(invalid("table 'datafusion.public.x' not found"), "42P01");
        assert_eq!(invalid("Schema error: No field named y."), "42703");
        assert_eq!(invalid(bastide_query::WITHHELD), "22000");
        assert_eq!(invalid("Invalid function 'frobnicate'"), "42000");
    }

    #[test]
    fn drivers_statements_are_told_apart_from_queries() {
        assert!(matches!(kind("BEGIN"), Kind::Transaction("BEGIN")));
        assert!(matches!(kind("commit;"), Kind::Transaction("COMMIT")));
        assert!(matches!(kind("SET extra_float_digits = 3"), Kind::Setting));
        assert!(matches!(kind("SET SESSION TIME ZONE 'UTC'"), Kind::Setting));
        assert!(matches!(
            kind("SET datafusion.execution.batch_size = 1"),
            Kind::Query
        ));
        assert!(matches!(kind("select 1"), Kind::Query));
        assert!(matches!(
            kind("SAVEPOINT \"_pg3_1\""),
            Kind::Transaction("SAVEPOINT")
        ));
        assert!(matches!(
            kind("ROLLBACK TO SAVEPOINT x"),
            Kind::Transaction("ROLLBACK TO")
        ));
        assert!(matches!(kind("SHOW DateStyle"), Kind::Show(name) if name == "datestyle"));
        assert!(matches!(
            kind("SELECT relname FROM pg_catalog.pg_class"),
            Kind::Catalogue(_)
        ));
        assert!(matches!(kind("SELECT * FROM ir_ben_r"), Kind::Query));
    }
}
