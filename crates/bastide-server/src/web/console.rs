//! The workspace SQL console: an editor (highlighting and completion of the permit's
//! tables and columns by `console.js`; a plain text area without it), the query run
//! through the hub's use case exactly as from the API (`Hub::query`: permit, guard,
//! limits, disclosure control, history, audit), the answer as a table with withheld
//! cells marked, a chart of aggregate answers, the project's history, cancelling a
//! running query (the script calls the API's cancel), and saving the query's answer
//! into a draft release request.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use bastide_access::{Grant, Mode, ReleaseState};
use bastide_core::ids::{ProjectId, ReleaseId};
use bastide_hub::{Answered, Client, QueryRequest};
use bastide_meta::QueryRecord;
use maud::{Markup, html};
use serde::Deserialize;

use super::chart;
use super::i18n::Lang;
use super::layout::{Nav, alert, csrf, moment, page};
use super::session::redirect;
use super::signed::{Posted, Signed, not_found, refusal};
use crate::api::AppState;

/// Queries of the history shown.
const HISTORY: i64 = 20;

/// A query of the history to put back in the editor.
#[derive(Debug, Deserialize)]
pub(super) struct From {
    from: Option<String>,
}

/// What the console shows below the editor.
enum Outcome {
    Nothing,
    Answered(Box<Answered>),
    Failed(String),
}

/// The console, its editor holding the query `from` of the history when asked.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(from): Query<From>,
    signed: Signed,
) -> Response {
    let Ok(project) = ProjectId::parse(&id) else {
        return not_found(signed.lang);
    };
    let mut sql = String::new();
    if let Some(query) = from.from
        && let Ok(Some(record)) = state
            .hub
            .query_record(&signed.caller(), &project, &query)
            .await
    {
        sql = record.sql;
    }
    console(
        &state,
        &signed,
        &project,
        &sql,
        Outcome::Nothing,
        StatusCode::OK,
    )
    .await
}

/// Runs the query typed, and shows the console with its answer or why it failed.
pub(super) async fn run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let signed = &posted.signed;
    let Ok(project) = ProjectId::parse(&id) else {
        return not_found(signed.lang);
    };
    let sql = posted.fields.get("sql").to_owned();
    let client = signed
        .credential
        .client()
        .map_or(Client::Unknown, Client::Remote);
    let request = QueryRequest::web(&project, &sql, client);
    let (outcome, status) = match state.hub.query(&signed.caller(), request).await {
        Ok(answered) => (Outcome::Answered(Box::new(answered)), StatusCode::OK),
        Err(failure) => match crate::api::routes::queries::failure(failure) {
            crate::api::ApiError::Client {
                status, message, ..
            } => (Outcome::Failed(message), status),
            crate::api::ApiError::Internal(cause) => {
                return super::unavailable(signed.lang, &bastide_hub::Error::Internal(cause));
            }
        },
    };
    console(&state, signed, &project, &sql, outcome, status).await
}

/// Saves the answer to the query typed into a release request of the project, and
/// goes to the request.
pub(super) async fn save(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let signed = &posted.signed;
    let lang = signed.lang;
    let Ok(project) = ProjectId::parse(&id) else {
        return not_found(lang);
    };
    let sql = posted.fields.get("sql").to_owned();
    let name = posted.fields.get("name").trim().to_owned();
    let Ok(release) = ReleaseId::parse(posted.fields.get("release")) else {
        let message = lang.pick(
            "Choisissez une demande de sortie en brouillon (créez-en une depuis la page du projet).",
            "Choose a draft release request (start one from the project's page).",
        );
        let outcome = Outcome::Failed(message.to_owned());
        return console(
            &state,
            signed,
            &project,
            &sql,
            outcome,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    match state
        .hub
        .add_release_answer(&signed.caller(), &release, &name, &sql)
        .await
    {
        Ok(_) => redirect(format!("/releases/{release}"), []),
        Err(e) => match refusal(lang, e) {
            Ok(message) => {
                let outcome = Outcome::Failed(message);
                console(
                    &state,
                    signed,
                    &project,
                    &sql,
                    outcome,
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            Err(page) => *page,
        },
    }
}

/// Cancels one of the person's running queries (from the history, in any tab), and
/// comes back to the console.
pub(super) async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let signed = &posted.signed;
    let Ok(project) = ProjectId::parse(&id) else {
        return not_found(signed.lang);
    };
    let query = posted.fields.get("query").to_owned();
    match state
        .hub
        .cancel_query(&signed.caller(), &project, &query)
        .await
    {
        Ok(()) => redirect(format!("/projects/{project}/console"), []),
        Err(e) => match refusal(signed.lang, e) {
            Ok(message) => {
                let outcome = Outcome::Failed(message);
                console(
                    &state,
                    signed,
                    &project,
                    "",
                    outcome,
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            Err(page) => *page,
        },
    }
}

async fn console(
    state: &AppState,
    signed: &Signed,
    project: &ProjectId,
    sql: &str,
    outcome: Outcome,
    status: StatusCode,
) -> Response {
    let lang = signed.lang;
    let caller = signed.caller();
    let title = match state.hub.project(&caller, project).await {
        Ok(p) => p.application.title,
        Err(_) => return not_found(lang),
    };
    let grant = state
        .hub
        .permits(&caller, project)
        .await
        .ok()
        .and_then(|permits| permits.into_iter().find(|p| p.revoked_at.is_none()))
        .map(|p| p.grant);
    let history = state
        .hub
        .query_history(&caller, project, HISTORY)
        .await
        .unwrap_or_default();
    let drafts: Vec<(String, String)> = state
        .hub
        .releases(&caller, Some(project))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| matches!(r.state, ReleaseState::Draft | ReleaseState::Returned))
        .map(|r| (r.id, r.title))
        .collect();
    let content = html! {
        p { a href={ "/projects/" (project) } { "← " (title) } }
        div.console {
            (schema(lang, grant.as_ref()))
            div.work {
                (editor(lang, signed, project, sql, grant.as_ref()))
                (outcome_markup(lang, signed, project, sql, &outcome, &drafts))
                (history_markup(lang, signed, project, &history))
            }
        }
        script src="/assets/console.js" defer {}
    };
    let path = format!("/projects/{project}/console");
    (
        status,
        Html(
            page(
                lang,
                Some(&signed.viewer),
                lang.pick("Console SQL", "SQL console"),
                Nav::Projects,
                &path,
                content,
            )
            .into_string(),
        ),
    )
        .into_response()
}

/// The permit's tables and columns, as the workspace names them.
fn schema(lang: Lang, grant: Option<&Grant>) -> Markup {
    html! {
        aside.schema aria-labelledby="schema-title" {
            h2 #schema-title { (lang.pick("Tables autorisées", "Permitted tables")) }
            @match grant {
                None => { p.empty { (lang.pick("Aucune autorisation en vigueur.", "No permit in force.")) } },
                Some(grant) => {
                    p.meta { @match grant.mode {
                        Mode::AggregateOnly => { (lang.pick("Agrégats seulement : chaque cellule est contrôlée.", "Aggregates only: every cell is checked.")) },
                        Mode::RowLevel => { (lang.pick("Lignes, dans l'espace de travail.", "Rows, in the workspace.")) },
                    } }
                    @for table in &grant.tables {
                        details open {
                            summary { code { (table.name.to_lowercase()) } }
                            ul { @for column in &table.columns { li { code { (column.to_lowercase()) } } } }
                        }
                    }
                }
            }
        }
    }
}

/// The editor's form; `data-words` gives the script the names to complete.
fn editor(
    lang: Lang,
    signed: &Signed,
    project: &ProjectId,
    sql: &str,
    grant: Option<&Grant>,
) -> Markup {
    let words = grant
        .map(|g| {
            g.tables
                .iter()
                .map(|t| {
                    let columns: Vec<String> = t.columns.iter().map(|c| c.to_lowercase()).collect();
                    format!("{}:{}", t.name.to_lowercase(), columns.join(","))
                })
                .collect::<Vec<_>>()
                .join(";")
        })
        .unwrap_or_default();
    html! {
        form.editor #run method="post" action={ "/projects/" (project) "/console" } data-project=(project) {
            (csrf(&signed.viewer.csrf))
            label for="sql" { (lang.pick("Requête SQL", "SQL query")) }
            div.code {
                textarea #sql name="sql" rows="8" spellcheck="false" autocomplete="off" autocapitalize="off"
                    data-words=(words) aria-describedby="sql-hint" required { (sql) }
            }
            p #sql-hint .hint { (lang.pick(
                "Ctrl+Entrée exécute ; Ctrl+Espace propose les tables et colonnes autorisées.",
                "Ctrl+Enter runs; Ctrl+Space offers the permitted tables and columns.",
            )) }
            div.buttons {
                button type="submit" { (lang.pick("Exécuter", "Run")) }
                button #cancel .secondary type="button" hidden { (lang.pick("Annuler la requête", "Cancel the query")) }
                span #running .meta role="status" aria-live="polite" {}
            }
        }
    }
}

fn outcome_markup(
    lang: Lang,
    signed: &Signed,
    project: &ProjectId,
    sql: &str,
    outcome: &Outcome,
    drafts: &[(String, String)],
) -> Markup {
    match outcome {
        Outcome::Nothing => html! {},
        Outcome::Failed(message) => alert(Some(message)),
        Outcome::Answered(answered) => {
            let answer = &answered.answer;
            let withheld = answer.disclosure.as_ref().is_some_and(|d| d.withheld() > 0);
            let table = chart::Table::of(answer);
            html! {
                section.answer aria-labelledby="answer-title" {
                    h2 #answer-title { (lang.pick("Résultat", "Answer")) }
                    p.meta {
                        (answer.rows) " " (lang.pick("lignes", "rows"))
                        @if answer.truncated { " (" (lang.pick("tronqué", "truncated")) ")" }
                        " · " (answer.elapsed.as_millis()) " ms"
                    }
                    @if let Some(note) = answer.disclosure.as_ref().and_then(|d| d.summary()) {
                        div.notice role="status" { p { (note) } }
                    }
                    @if answered.mode == Mode::AggregateOnly {
                        (chart::bars(lang, &table, withheld))
                    }
                    (chart::table_markup(lang, &table, withheld))
                    @if !drafts.is_empty() {
                        form.save method="post" action={ "/projects/" (project) "/console/save" } {
                            (csrf(&signed.viewer.csrf))
                            input type="hidden" name="sql" value=(sql);
                            label for="save-release" { (lang.pick("Ajouter ce résultat à la demande de sortie", "Add this answer to the release request")) }
                            select #save-release name="release" {
                                @for (id, title) in drafts { option value=(id) { (title) } }
                            }
                            label for="save-name" { (lang.pick("nom du fichier", "file name")) }
                            input #save-name type="text" name="name" value="result.csv" required;
                            button type="submit" { (lang.pick("Ajouter", "Add")) }
                        }
                    }
                }
            }
        }
    }
}

fn history_markup(
    lang: Lang,
    signed: &Signed,
    project: &ProjectId,
    history: &[QueryRecord],
) -> Markup {
    html! {
        section.history aria-labelledby="history-title" {
            h2 #history-title { (lang.pick("Historique des requêtes", "Query history")) }
            @if history.is_empty() {
                p.empty { (lang.pick("Aucune requête encore.", "No query yet.")) }
            } @else {
                table {
                    caption.visually-hidden { (lang.pick("Historique des requêtes", "Query history")) }
                    thead { tr {
                        th scope="col" { (lang.pick("Début", "Started")) }
                        th scope="col" { (lang.pick("Par", "By")) }
                        th scope="col" { (lang.pick("Statut", "Status")) }
                        th scope="col" { (lang.pick("Lignes", "Rows")) }
                        th scope="col" { "SQL" }
                    } }
                    tbody {
                        @for query in history {
                            tr {
                                td { (moment(query.started_at)) }
                                td { (query.user_name) }
                                td {
                                    (super::pages::recorded(lang, &query.status))
                                    // One's own running query can be stopped from any tab.
                                    @if query.status == "running" && query.user_name == signed.viewer.name {
                                        " "
                                        form.inline method="post" action={ "/projects/" (project) "/console/cancel" } {
                                            (csrf(&signed.viewer.csrf))
                                            input type="hidden" name="query" value=(query.id);
                                            button.secondary type="submit" { (lang.pick("Annuler", "Cancel")) }
                                        }
                                    }
                                }
                                td { @if let Some(rows) = query.row_count { (rows) } }
                                td {
                                    a href={ "/projects/" (project) "/console?from=" (query.id) } {
                                        code { (query.sql.chars().take(120).collect::<String>()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
