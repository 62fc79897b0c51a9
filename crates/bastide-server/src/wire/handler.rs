//! Statements over the wire, simple and extended protocol alike: each read query goes
//! to [`Hub::query`] (Parse/Describe to [`Hub::describe`]); the transaction and client
//! settings statements that drivers send on their own are answered without effect.

use std::fmt::Debug;
use std::sync::Arc;

use arrow_pg::datatypes::df::deserialize_parameters;
use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch, into_pg_type};
use async_trait::async_trait;
use bastide_core::ids::ProjectId;
use bastide_query::Checked;
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
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A query for the workspace.
    Query,
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
        let prepared = if kind == Kind::Query {
            let caller = self.caller(client).await?;
            Some(
                self.hub
                    .describe(&caller.caller, &caller.project, sql, caller.client)
                    .await
                    .map_err(error)?,
            )
        } else {
            None
        };
        Ok(Some(WireStatement {
            sql: sql.to_owned(),
            kind,
            prepared,
        }))
    }

    fn get_parameter_types(&self, stmt: &WireStatement) -> PgWireResult<Vec<Type>> {
        let Some(Prepared { described, .. }) = &stmt.prepared else {
            return Ok(Vec::new());
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
        match &stmt.prepared {
            Some(Prepared { described, .. }) => arrow_schema_to_pg_fields(
                &described.columns,
                format.unwrap_or(&Format::UnifiedText),
                None,
            ),
            None => Ok(Vec::new()),
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
                rows(answered, &Format::UnifiedText)?
            }
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
                        let types: Vec<Option<&DataType>> =
                            described.parameters.iter().map(Option::as_ref).collect();
                        // Decoding errors may quote the value: never shown.
                        deserialize_parameters(portal, &types).map_err(|_| {
                            client_error(
                                "22023",
                                "a value bound to the query does not fit its placeholder's type; bind numbers where the query compares numbers, text where it compares text".into(),
                            )
                        })?
                    }
                    _ => no_parameters(),
                };
                let parsed = statement.prepared.as_ref().map(|p| p.statement.clone());
                let answered = self
                    .parser
                    .run(&*client, &statement.sql, params, parsed)
                    .await?;
                notify(client, &answered).await?;
                rows(answered, &portal.result_column_format)
            }
            other => Ok(answer_only(other)),
        }
    }
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
        "rollback" | "abort" => Kind::Transaction("ROLLBACK"),
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
        _ => Kind::Query,
    }
}

fn no_parameters() -> ParamValues {
    ParamValues::List(Vec::new())
}

fn answer_only(kind: &Kind) -> Response {
    match kind {
        Kind::Transaction("BEGIN") => Response::TransactionStart(Tag::new("BEGIN")),
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
fn rows(answered: Answered, format: &Format) -> PgWireResult<Response> {
    let fields = Arc::new(arrow_schema_to_pg_fields(
        &answered.answer.schema,
        format,
        None,
    )?);
    let mut rows = Vec::with_capacity(answered.answer.rows);
    for batch in answered.answer.batches {
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
            Q::Invalid { .. } => "42P01",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_statements_are_told_apart_from_queries() {
        assert_eq!(kind("BEGIN"), Kind::Transaction("BEGIN"));
        assert_eq!(kind("commit;"), Kind::Transaction("COMMIT"));
        assert_eq!(kind("SET extra_float_digits = 3"), Kind::Setting);
        assert_eq!(kind("SET SESSION TIME ZONE 'UTC'"), Kind::Setting);
        assert_eq!(kind("SET datafusion.execution.batch_size = 1"), Kind::Query);
        assert_eq!(kind("select 1"), Kind::Query);
    }
}
