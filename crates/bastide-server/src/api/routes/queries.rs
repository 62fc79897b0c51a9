//! Queries in a project's workspace over HTTP: run one (answer as JSON, or as Arrow
//! IPC when the permit is aggregate-only), the project's history, one query's
//! status, cancellation. The rules are the hub's (`hub::queries`); this file maps
//! them to HTTP.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bastide_meta::QueryRecord;
use bastide_query::Answer;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::json::ArrayWriter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::identity::hub;
use crate::api::ProjectCaller;
use crate::api::{ApiError, AppState, ErrorEnvelope};
use bastide_hub::{Answered, Client, QueryFailure, QueryRequest};

/// The media type of an Arrow IPC stream.
const ARROW: &str = "application/vnd.apache.arrow.stream";

/// A query to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewQuery {
    /// One SQL read query over the permit's tables (lower-case names).
    sql: String,
    /// `json` (default) or `arrow` (an Arrow IPC stream; aggregate-only permits).
    #[serde(default)]
    format: Option<String>,
}

/// A column of an answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AnswerColumn {
    /// Its name.
    name: String,
    /// Its Arrow type.
    r#type: String,
}

/// A query's answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueryAnswer {
    /// The query's id, for its status and history.
    id: String,
    /// `succeeded`.
    status: String,
    /// The columns.
    columns: Vec<AnswerColumn>,
    /// The rows, one object each, at most the hub's row cap.
    #[schema(value_type = Vec<Object>)]
    rows: serde_json::Value,
    /// Rows shown.
    row_count: usize,
    /// Whether rows beyond the cap were left out.
    truncated: bool,
    /// Time taken.
    elapsed_ms: u64,
    /// What disclosure control did (aggregate-only answers about persons): cells
    /// checked, rows left out whole (their group under the minimum of persons), cells
    /// withheld by rule and to protect them from the totals, the rules applied.
    /// Withheld cells are null in `rows`.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    disclosure: Option<bastide_query::Disclosure>,
    /// What was withheld, in a sentence; absent when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    disclosure_note: Option<String>,
}

/// A query in the history.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueryInfo {
    /// Its id.
    id: String,
    /// Who ran it.
    user: String,
    /// `api` or `wire`.
    channel: String,
    /// The SQL.
    sql: String,
    /// `running`, `succeeded`, `failed`, `refused` or `cancelled`.
    status: String,
    /// Rows in the answer.
    row_count: Option<i64>,
    /// Whether the answer was cut at the row cap.
    truncated: bool,
    /// Time taken.
    elapsed_ms: Option<i64>,
    /// Why it failed.
    error: Option<String>,
    /// Start, seconds since the Unix epoch.
    started_at: i64,
    /// End.
    finished_at: Option<i64>,
}

impl From<QueryRecord> for QueryInfo {
    fn from(q: QueryRecord) -> Self {
        Self {
            id: q.id,
            user: q.user_name,
            channel: q.channel,
            sql: q.sql,
            status: q.status,
            row_count: q.row_count,
            truncated: q.truncated,
            elapsed_ms: q.elapsed_ms,
            error: q.error,
            started_at: q.started_at,
            finished_at: q.finished_at,
        }
    }
}

/// How much history.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct HistoryParams {
    /// At most this many queries, newest first (default 100, at most 1000).
    limit: Option<i64>,
}

/// Runs a query in the project's workspace, under its permit (checked now).
#[utoipa::path(post, path = "/api/v1/projects/{id}/queries", tag = "queries", request_body = NewQuery,
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The answer (JSON, or an Arrow IPC stream with `format: arrow`)", body = QueryAnswer),
        (status = 400, description = "A syntax error (with its position) or an unknown table or column", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "No permit in force, or a refused construct", body = ErrorEnvelope),
        (status = 409, description = "Cancelled", body = ErrorEnvelope),
        (status = 422, description = "Past its time or memory limit", body = ErrorEnvelope),
        (status = 429, description = "Too many queries running", body = ErrorEnvelope)))]
pub(crate) async fn run(
    State(state): State<AppState>,
    caller: ProjectCaller,
    Json(body): Json<NewQuery>,
) -> Result<Response, ApiError> {
    let download = match body.format.as_deref() {
        None | Some("json") => false,
        Some("arrow") => true,
        Some(other) => {
            return Err(bad(
                "invalid",
                format!("format `{other}`: use json or arrow"),
            ));
        }
    };
    let client = caller.client().map_or(Client::Unknown, Client::Remote);
    let answered = state
        .hub
        .query(
            &caller.hub(),
            QueryRequest::api(caller.project(), &body.sql, client, download),
        )
        .await
        .map_err(failure)?;
    if download {
        arrow(&answered)
    } else {
        Ok(Json(json(answered)?).into_response())
    }
}

/// The project's queries, newest first (whoever may see the project).
#[utoipa::path(get, path = "/api/v1/projects/{id}/queries", tag = "queries",
    params(("id" = String, Path, description = "Project id"), HistoryParams),
    responses(
        (status = 200, description = "The history", body = Vec<QueryInfo>),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 404, description = "No such project the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn history(
    State(state): State<AppState>,
    caller: ProjectCaller,
    Query(params): Query<HistoryParams>,
) -> Result<Json<Vec<QueryInfo>>, ApiError> {
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    let records = state
        .hub
        .query_history(&caller.hub(), caller.project(), limit)
        .await
        .map_err(hub)?;
    Ok(Json(records.into_iter().map(QueryInfo::from).collect()))
}

/// One query of the project: its status, rows, time, error.
#[utoipa::path(get, path = "/api/v1/projects/{id}/queries/{query}", tag = "queries",
    params(("id" = String, Path, description = "Project id"), ("query" = String, Path, description = "Query id")),
    responses(
        (status = 200, description = "The query", body = QueryInfo),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 404, description = "No such query in a project the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn status(
    State(state): State<AppState>,
    caller: ProjectCaller,
    Path(path): Path<(String, String)>,
) -> Result<Json<QueryInfo>, ApiError> {
    let (id, query) = (caller.project(), path.1);
    match state.hub.query_record(&caller.hub(), id, &query).await {
        Ok(Some(record)) => Ok(Json(record.into())),
        Ok(None) => Err(ApiError::not_found(format!(
            "no query {query} in project {id}"
        ))),
        Err(e) => Err(hub(e)),
    }
}

/// Cancels one of the caller's running queries: it stops and frees its resources.
#[utoipa::path(delete, path = "/api/v1/projects/{id}/queries/{query}", tag = "queries",
    params(("id" = String, Path, description = "Project id"), ("query" = String, Path, description = "Query id")),
    responses(
        (status = 202, description = "Cancelled; it ends as `cancelled`"),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 404, description = "No running query of the caller by that id", body = ErrorEnvelope)))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    caller: ProjectCaller,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .hub
        .cancel_query(&caller.hub(), caller.project(), &path.1)
        .await
        .map_err(hub)?;
    Ok(StatusCode::ACCEPTED)
}

/// The answer as JSON.
fn json(answered: Answered) -> Result<QueryAnswer, ApiError> {
    let Answered { record, answer, .. } = answered;
    let mut writer = ArrayWriter::new(Vec::new());
    for batch in &answer.batches {
        writer.write(batch).map_err(ApiError::internal)?;
    }
    writer.finish().map_err(ApiError::internal)?;
    let bytes = writer.into_inner();
    let rows = if bytes.is_empty() {
        serde_json::Value::Array(Vec::new())
    } else {
        serde_json::from_slice(&bytes).map_err(ApiError::internal)?
    };
    Ok(QueryAnswer {
        id: record.id,
        status: record.status,
        columns: columns(&answer),
        rows,
        row_count: answer.rows,
        truncated: answer.truncated,
        elapsed_ms: answer.elapsed.as_millis() as u64,
        disclosure_note: answer.disclosure.as_ref().and_then(|d| d.summary()),
        disclosure: answer.disclosure,
    })
}

fn columns(answer: &Answer) -> Vec<AnswerColumn> {
    answer
        .schema
        .fields()
        .iter()
        .map(|f| AnswerColumn {
            name: f.name().clone(),
            r#type: f.data_type().to_string(),
        })
        .collect()
}

/// The answer as an Arrow IPC stream, its id and counts in headers.
fn arrow(answered: &Answered) -> Result<Response, ApiError> {
    let answer = &answered.answer;
    let mut writer =
        StreamWriter::try_new(Vec::new(), &answer.schema).map_err(ApiError::internal)?;
    for batch in &answer.batches {
        writer.write(batch).map_err(ApiError::internal)?;
    }
    writer.finish().map_err(ApiError::internal)?;
    let body = writer.into_inner().map_err(ApiError::internal)?;
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ARROW));
    for (name, value) in [
        ("x-bastide-query-id", answered.record.id.clone()),
        ("x-bastide-row-count", answer.rows.to_string()),
        ("x-bastide-truncated", answer.truncated.to_string()),
        (
            "x-bastide-withheld",
            answer
                .disclosure
                .as_ref()
                .map_or(0, |d| d.withheld())
                .to_string(),
        ),
    ] {
        headers.insert(
            name,
            HeaderValue::from_str(&value).map_err(ApiError::internal)?,
        );
    }
    Ok(response)
}

/// A failed query as an HTTP error.
pub(crate) fn failure(failure: QueryFailure) -> ApiError {
    use bastide_query::Error as Q;
    let message = failure.to_string();
    match failure {
        QueryFailure::Denied(_) => client(StatusCode::FORBIDDEN, "permit_denied", message),
        QueryFailure::Query(e) => match e {
            Q::Syntax { .. } => client(StatusCode::BAD_REQUEST, "syntax", message),
            Q::Invalid { .. } => client(StatusCode::BAD_REQUEST, "invalid", message),
            Q::Refused { .. } => client(StatusCode::FORBIDDEN, "refused", message),
            Q::TimedOut { .. } => client(StatusCode::UNPROCESSABLE_ENTITY, "time_limit", message),
            Q::OutOfMemory { .. } => {
                client(StatusCode::UNPROCESSABLE_ENTITY, "memory_limit", message)
            }
            Q::Busy { .. } | Q::HubBusy => client(StatusCode::TOO_MANY_REQUESTS, "busy", message),
            Q::Repeated { .. } => client(StatusCode::TOO_MANY_REQUESTS, "repeated", message),
            Q::Cancelled => client(StatusCode::CONFLICT, "cancelled", message),
            Q::Store(_) | Q::Internal(_) => ApiError::internal(message),
        },
        QueryFailure::Hub(e) => ApiError::internal(e),
    }
}

fn client(status: StatusCode, code: &'static str, message: String) -> ApiError {
    ApiError::Client {
        status,
        code,
        message,
    }
}

fn bad(code: &'static str, message: String) -> ApiError {
    client(StatusCode::BAD_REQUEST, code, message)
}
