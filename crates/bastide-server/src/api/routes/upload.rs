//! Batches sent over HTTP: the body streams to a private file in the data folder
//! (memory holds one chunk of it), goes through exactly the ingestion the command line
//! runs, and the file is removed. Stewards and administrators send batches.

use std::io::Write;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use bastide_core::private;
use bastide_ingest::{CsvOptions, Encoding};
use futures::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::Caller;
use crate::api::{ApiError, AppState, ErrorEnvelope};
use bastide_core::ids::{DatasetName, TableName};
use bastide_hub::{IngestReport, OnError};

/// How to read the batch.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct UploadQuery {
    /// `reject` (default: store nothing if any row is refused) or `quarantine`.
    on_error: Option<String>,
    /// `utf-8` (default), `latin-1` or `windows-1252`.
    encoding: Option<String>,
    /// The field separator, one character (default `,`; `tab` for a tab).
    delimiter: Option<String>,
}

/// Ingests the request body (CSV, or Parquet with `Content-Type:
/// application/vnd.apache.parquet`) into a table: validated, pseudonymised, encrypted
/// and committed as a new version, or refused whole with the report.
#[utoipa::path(put, path = "/api/v1/datasets/{name}/tables/{table}/batches", tag = "catalogue",
    params(
        ("name" = String, Path, description = "Dataset"),
        ("table" = String, Path, description = "Table"),
        UploadQuery),
    request_body(content = String, description = "The batch: CSV with a header line, or Parquet", content_type = "text/csv"),
    responses(
        (status = 201, description = "Committed (or recognised as sent before): the ingestion report", body = serde_json::Value),
        (status = 400, description = "An option or the file is unusable", body = ErrorEnvelope),
        (status = 401, description = "No valid token or session", body = ErrorEnvelope),
        (status = 403, description = "Neither steward nor administrator", body = ErrorEnvelope),
        (status = 422, description = "Rows refused: nothing stored; the message counts them by column and rule", body = ErrorEnvelope)))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path((dataset, table)): Path<(String, String)>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<IngestReport>), ApiError> {
    let (dataset, table) = (
        DatasetName::parse(&dataset).map_err(|e| bad(e.to_string()))?,
        TableName::parse(&table).map_err(|e| bad(e.to_string()))?,
    );
    let by = caller.hub();
    state
        .hub
        .may_ingest(&by, &dataset, &table)
        .await
        .map_err(super::identity::hub)?;
    let (on_error, csv) = options(&query)?;
    let parquet = is_parquet(&headers);
    // A private folder in the data folder: the upload holds identifiers in clear until
    // it is read.
    let uploads = state.hub.settings().data_dir.join("uploads");
    private::create_dir_all(&uploads).map_err(ApiError::internal)?;
    let dir = tempfile::Builder::new()
        .prefix("batch-")
        .tempdir_in(&uploads)
        .map_err(ApiError::internal)?;
    let file = dir.path().join(if parquet {
        "upload.parquet"
    } else {
        "upload.csv"
    });
    let mut out = private::create_new(&file).map_err(ApiError::internal)?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad(format!("the upload broke off: {e}")))?;
        out.write_all(&chunk).map_err(ApiError::internal)?;
    }
    drop(out);
    // Ingestion's future borrows across awaits in ways the compiler cannot prove
    // `Send` for every lifetime; it runs to completion on a blocking thread instead.
    let (hub, files) = (state.hub.clone(), vec![file.clone()]);
    let runtime = tokio::runtime::Handle::current();
    let result = tokio::task::spawn_blocking(move || {
        let noop: bastide_hub::Progress = std::sync::Arc::new(|_, _| {});
        runtime.block_on(hub.ingest(&by, &dataset, &table, &files, on_error, csv, noop))
    })
    .await
    .map_err(ApiError::internal)?;
    drop(dir);
    let shown = file.display().to_string();
    let report = result.map_err(|e| match e {
        // The batch or the request is at fault: say what, naming the upload.
        bastide_hub::Error::Ingest(_) | bastide_hub::Error::Schema(_) => {
            bad(e.to_string().replace(&shown, "upload"))
        }
        other => ApiError::internal(other),
    })?;
    answer(report, &shown)
}

fn is_parquet(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/vnd.apache.parquet"))
}

/// 201 with the report when committed, else 422 naming the refusals; places name the
/// upload, not the folder it passed through.
fn answer(
    mut report: IngestReport,
    shown: &str,
) -> Result<(StatusCode, Json<IngestReport>), ApiError> {
    report.files = vec!["upload".into()];
    for group in &mut report.errors {
        for place in &mut group.first {
            *place = place.replace(shown, "upload");
        }
    }
    if report.committed {
        return Ok((StatusCode::CREATED, Json(report)));
    }
    let mut summary = Vec::new();
    for e in &report.errors {
        let first: Vec<String> = e.first.iter().take(3).cloned().collect();
        summary.push(format!(
            "{} × column {} ({}): expected {}; first at {}",
            e.count,
            e.column,
            e.rule.name(),
            e.expected,
            first.join(", ")
        ));
    }
    Err(ApiError::Client {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "rejected",
        message: format!(
            "batch rejected: {} of {} rows refused, nothing stored; fix them or send with on_error=quarantine. {}",
            report.rows_rejected,
            report.rows_in,
            summary.join("; ")
        ),
    })
}

fn options(query: &UploadQuery) -> Result<(OnError, CsvOptions), ApiError> {
    let on_error = match query.on_error.as_deref() {
        None | Some("reject") => OnError::Reject,
        Some("quarantine") => OnError::Quarantine,
        Some(other) => return Err(bad(format!("on_error `{other}`: use reject or quarantine"))),
    };
    let encoding = match query.encoding.as_deref() {
        None | Some("utf-8") => Encoding::Utf8,
        Some("latin-1") => Encoding::Latin1,
        Some("windows-1252") => Encoding::Windows1252,
        Some(other) => {
            return Err(bad(format!(
                "encoding `{other}`: use utf-8, latin-1 or windows-1252"
            )));
        }
    };
    let delimiter = match query.delimiter.as_deref() {
        None => b',',
        Some(d) => bastide_ingest::parse_delimiter(d).ok_or_else(|| {
            bad(format!(
                "delimiter `{d}` is not one character (write tab for a tab)"
            ))
        })?,
    };
    Ok((
        on_error,
        CsvOptions {
            delimiter,
            encoding,
            ..CsvOptions::default()
        },
    ))
}

fn bad(message: String) -> ApiError {
    ApiError::Client {
        status: StatusCode::BAD_REQUEST,
        code: "invalid",
        message,
    }
}
