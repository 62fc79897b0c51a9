//! A release request in the browser: its files with the hub's report on each (the
//! disclosure checks of a saved answer, what the scan found), a preview for its
//! reviewers, its history and comments, and each step through the hub's use cases as
//! for the API: submit and withdraw (its requester), approve, reject or return (two
//! stewards who are not the requester), release (a steward), download (its requester,
//! once released), comment (anyone who sees it). Every read of a file is recorded.

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use bastide_access::{Release, ReleaseFile, ReleaseState, Review, Role};
use bastide_core::ids::ReleaseId;
use bastide_hub::ReleaseStep;
use maud::{Markup, html};

use super::i18n::Lang;
use super::layout::{Nav, alert, csrf, moment, page};
use super::pages::release_state;
use super::session::redirect;
use super::signed::{Posted, Signed, not_found, refusal};
use crate::api::AppState;

/// Lines of a file previewed for its reviewers.
const PREVIEW: usize = 50;

/// The request's page.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: Signed,
) -> Response {
    detail(&state, &signed, &id, None, StatusCode::OK).await
}

async fn detail(
    state: &AppState,
    signed: &Signed,
    id: &str,
    refused: Option<&str>,
    status: StatusCode,
) -> Response {
    let lang = signed.lang;
    let Ok(release_id) = ReleaseId::parse(id) else {
        return not_found(lang);
    };
    let caller = signed.caller();
    let release = match state.hub.release(&caller, &release_id).await {
        Ok(release) => release,
        Err(_) => return not_found(lang),
    };
    let reviewer =
        signed.viewer.roles.has(Role::Steward) && release.requested_by != signed.viewer.name;
    let content = content(signed, &release, reviewer, refused);
    let path = format!("/releases/{}", release.id);
    (
        status,
        Html(
            page(
                lang,
                Some(&signed.viewer),
                &release.title,
                Nav::Projects,
                &path,
                content,
            )
            .into_string(),
        ),
    )
        .into_response()
}

/// The first lines of a file, split into cells when it is a table.
fn preview(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = String::from_utf8_lossy(bytes);
    let separator = if text.lines().next().is_some_and(|l| l.contains('\t')) {
        '\t'
    } else {
        ','
    };
    text.lines()
        .take(PREVIEW)
        .map(|line| {
            line.split(separator)
                .map(|c| c.trim_matches('"').to_owned())
                .collect()
        })
        .collect()
}

fn content(signed: &Signed, release: &Release, reviewer: bool, refused: Option<&str>) -> Markup {
    let lang = signed.lang;
    let token = signed.viewer.csrf.as_str();
    let requester = release.requested_by == signed.viewer.name;
    let action = |to: &str| format!("/releases/{}/{to}", release.id);
    let editable = matches!(release.state, ReleaseState::Draft | ReleaseState::Returned);
    html! {
        (alert(refused))
        p { a href={ "/projects/" (release.project) } { "← " (lang.pick("Projet", "Project")) } }
        dl {
            dt { (lang.pick("État", "State")) } dd { strong.state { (release_state(lang, release.state)) } }
            dt { (lang.pick("Demandée par", "Requested by")) } dd { (release.requested_by) " · " (moment(release.created_at)) }
            dt { (lang.pick("Justification", "Justification")) } dd { (release.justification) }
            dt { (lang.pick("Approbations", "Approvals")) } dd { (release.approvals.len()) " / " (bastide_access::APPROVALS_NEEDED) @if !release.approvals.is_empty() { " (" (release.approvals.join(", ")) ")" } }
        }
        section aria-labelledby="files" {
            h2 #files { (lang.pick("Fichiers", "Files")) }
            @if release.files.is_empty() {
                p.empty { (lang.pick(
                    "Aucun fichier : ajoutez le résultat d'une requête depuis la console SQL du projet.",
                    "No file: add a query's answer from the project's SQL console.",
                )) }
            }
            @for file in &release.files {
                (file_markup(lang, release, file, requester, reviewer))
            }
            @if requester && editable {
                p { a.button href={ "/projects/" (release.project) "/console" } { (lang.pick("Ajouter un résultat depuis la console", "Add an answer from the console")) } }
            }
        }
        section aria-labelledby="actions" {
            h2 #actions { (lang.pick("Étapes", "Steps")) }
            @if requester && editable && !release.files.is_empty() {
                (step_form(lang, token, &action("submit"), "submit-note", lang.pick("Soumettre pour relecture", "Submit for review")))
            }
            @if requester && !matches!(release.state, ReleaseState::Released | ReleaseState::Withdrawn | ReleaseState::Rejected) {
                (step_form(lang, token, &action("withdraw"), "withdraw-note", lang.pick("Retirer la demande", "Withdraw the request")))
            }
            @if reviewer && matches!(release.state, ReleaseState::Submitted | ReleaseState::PartiallyReviewed) {
                form.review method="post" action=(action("review")) {
                    (csrf(token))
                    div.field {
                        label for="review-note" { (lang.pick("Avis (motif)", "Review (reason)")) }
                        textarea #review-note name="note" rows="2" {}
                    }
                    div.buttons {
                        button type="submit" name="review" value="approve" { (lang.pick("Approuver", "Approve")) }
                        button type="submit" name="review" value="return" { (lang.pick("Renvoyer pour modification", "Return for changes")) }
                        button type="submit" name="review" value="reject" { (lang.pick("Refuser", "Reject")) }
                    }
                }
            }
            @if signed.viewer.roles.has(Role::Steward) && release.state == ReleaseState::Approved {
                (step_form(lang, token, &action("release"), "release-note", lang.pick("Faire sortir les fichiers", "Release the files")))
            }
            form.comment method="post" action=(action("comment")) {
                (csrf(token))
                div.field {
                    label for="comment" { (lang.pick("Commentaire", "Comment")) }
                    textarea #comment name="text" rows="2" required {}
                }
                @if !release.files.is_empty() {
                    div.field {
                        label for="comment-file" { (lang.pick("Sur le fichier", "On the file")) }
                        select #comment-file name="file" {
                            option value="" { (lang.pick("(la demande)", "(the request)")) }
                            @for file in &release.files { option value=(file.name) { (file.name) } }
                        }
                    }
                }
                button type="submit" { (lang.pick("Commenter", "Comment")) }
            }
        }
        section aria-labelledby="release-history" {
            h2 #release-history { (lang.pick("Historique et commentaires", "History and comments")) }
            ol.history {
                @for event in &release.history {
                    li {
                        (moment(event.at)) " · " (event.actor) " · " (super::pages::recorded(lang, &event.kind))
                        @if let Some(to) = event.to { " → " (release_state(lang, to)) }
                        @if let Some(file) = &event.file { " · " code { (file) } }
                        @if !event.note.is_empty() { " · " (event.note) }
                    }
                }
            }
        }
    }
}

fn step_form(lang: Lang, token: &str, to: &str, id: &str, text: &str) -> Markup {
    html! {
        form.step method="post" action=(to) {
            (csrf(token))
            label for=(id) { (lang.pick("Note", "Note")) }
            input id=(id) type="text" name="note";
            button type="submit" { (text) }
        }
    }
}

fn file_markup(
    lang: Lang,
    release: &Release,
    file: &ReleaseFile,
    requester: bool,
    reviewer: bool,
) -> Markup {
    let reviewing = matches!(
        release.state,
        ReleaseState::Submitted | ReleaseState::PartiallyReviewed | ReleaseState::Approved
    );
    let report = &file.report;
    let text = |key: &str| report.get(key).and_then(|v| v.as_str()).unwrap_or("");
    let checked = report
        .get("checked")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    html! {
        article.file aria-labelledby={ "f-" (file.name) } {
            h3 #{ "f-" (file.name) } { code { (file.name) } }
            dl {
                dt { (lang.pick("Origine", "Origin")) } dd { @match &file.sql {
                    Some(sql) => { (lang.pick("résultat de la requête", "answer to the query")) " " code { (sql) } },
                    None => { (lang.pick("fichier envoyé", "file sent")) },
                } }
                dt { (lang.pick("Taille", "Size")) } dd { (file.bytes) " " (lang.pick("octets", "bytes")) " · SHA-256 " code { (file.sha256.chars().take(16).collect::<String>()) "…" } }
                dt { (lang.pick("Contrôle de divulgation", "Disclosure control")) }
                dd {
                    @if checked {
                        span.badge.ok { (lang.pick("chaque cellule contrôlée par le hub", "every cell checked by the hub")) }
                    } @else {
                        span.badge.warn { (lang.pick("non contrôlé par le hub : à juger par les relecteurs", "not checked by the hub: for the reviewers to judge")) }
                    }
                    " " (text("format"))
                    @if let Some(rows) = report.get("rows").and_then(|v| v.as_u64()) { " · " (rows) " " (lang.pick("lignes", "rows")) }
                }
                @if let Some(disclosure) = report.get("disclosure").and_then(|v| v.as_object()) {
                    dt { (lang.pick("Cellules", "Cells")) }
                    dd {
                        @for (key, value) in disclosure {
                            @if key != "rules" { span.fact { (key) " : " (value.to_string()) } " " }
                        }
                    }
                }
                @if let Some(warnings) = report.get("warnings").and_then(|v| v.as_array()).filter(|w| !w.is_empty()) {
                    dt { (lang.pick("Points d'attention", "Warnings")) }
                    dd { ul { @for w in warnings { li { (w.as_str().unwrap_or_default()) } } } }
                }
            }
            @if requester && release.state == ReleaseState::Released {
                p { a.button href={ "/releases/" (release.id) "/files/" (file.name) } download=(file.name) { (lang.pick("Télécharger", "Download")) " " span.visually-hidden { (file.name) } } }
            }
            // File names are letters, digits, `.`, `_` and `-` only (`check_file_name`):
            // they go into a path as they are.
            @if reviewer && reviewing {
                p { a href={ "/releases/" (release.id) "/files/" (file.name) "/preview" } { (lang.pick("Aperçu du fichier", "Preview the file")) span.visually-hidden { " " (file.name) } } }
            }
        }
    }
}

/// Goes back to the request's page, or shows it with the hub's refusal.
async fn acted(
    state: &AppState,
    posted: &Posted,
    id: &str,
    result: bastide_hub::Result<Release>,
) -> Response {
    match result {
        Ok(_) => redirect(format!("/releases/{id}"), []),
        Err(e) => match refusal(posted.signed.lang, e) {
            Ok(message) => {
                detail(
                    state,
                    &posted.signed,
                    id,
                    Some(&message),
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            Err(page) => *page,
        },
    }
}

/// A step that only moves the request: submit, withdraw, release.
async fn step(state: AppState, id: String, posted: Posted, step: ReleaseStep) -> Response {
    let Ok(release) = ReleaseId::parse(&id) else {
        return not_found(posted.signed.lang);
    };
    let note = posted.fields.get("note").trim().to_owned();
    let result = state
        .hub
        .move_release(&posted.signed.caller(), &release, step, &note)
        .await;
    acted(&state, &posted, &id, result).await
}

pub(super) async fn submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    step(state, id, posted, ReleaseStep::Submit).await
}

pub(super) async fn withdraw(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    step(state, id, posted, ReleaseStep::Withdraw).await
}

pub(super) async fn release(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    step(state, id, posted, ReleaseStep::Release).await
}

/// A reviewer's decision.
pub(super) async fn review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let lang = posted.signed.lang;
    let Ok(release) = ReleaseId::parse(&id) else {
        return not_found(lang);
    };
    let review = match posted.fields.get("review") {
        "approve" => Review::Approve,
        "reject" => Review::Reject,
        "return" => Review::Return,
        _ => {
            let message = lang.pick("Choisissez un avis.", "Choose a decision.");
            return detail(
                &state,
                &posted.signed,
                &id,
                Some(message),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let note = posted.fields.get("note").trim().to_owned();
    let result = state
        .hub
        .review_release(&posted.signed.caller(), &release, review, &note)
        .await;
    acted(&state, &posted, &id, result).await
}

/// A comment on the request or one of its files.
pub(super) async fn comment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Ok(release) = ReleaseId::parse(&id) else {
        return not_found(posted.signed.lang);
    };
    let file = Some(posted.fields.get("file")).filter(|f| !f.is_empty());
    let text = posted.fields.get("text").trim().to_owned();
    let result = state
        .hub
        .comment_release(&posted.signed.caller(), &release, file, &text)
        .await;
    acted(&state, &posted, &id, result).await
}

/// The first lines of a file, for its reviewers (each preview is a recorded read).
pub(super) async fn preview_page(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    signed: Signed,
) -> Response {
    let lang = signed.lang;
    let Ok(release) = ReleaseId::parse(&id) else {
        return not_found(lang);
    };
    match state
        .hub
        .release_file(&signed.caller(), &release, &name)
        .await
    {
        Ok(download) => {
            let lines = preview(&download.bytes);
            let content = html! {
                p { a href={ "/releases/" (release) } { "← " (lang.pick("La demande", "The request")) } }
                p.meta { (lang.pick("Les", "The first")) " " (lines.len()) " " (lang.pick("premières lignes.", "lines.")) }
                div.scroll tabindex="0" {
                    table.preview {
                        caption.visually-hidden { (name) }
                        @for (i, line) in lines.iter().enumerate() {
                            tr { @for cell in line { @if i == 0 { th scope="col" { (cell) } } @else { td { (cell) } } } }
                        }
                    }
                }
            };
            let path = format!("/releases/{release}");
            Html(
                page(
                    lang,
                    Some(&signed.viewer),
                    &name,
                    Nav::Projects,
                    &path,
                    content,
                )
                .into_string(),
            )
            .into_response()
        }
        Err(e) => match refusal(lang, e) {
            Ok(message) => {
                detail(&state, &signed, &id, Some(&message), StatusCode::FORBIDDEN).await
            }
            Err(page) => *page,
        },
    }
}

/// A file of the request, for its requester once released (and its reviewers).
pub(super) async fn download(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    signed: Signed,
) -> Response {
    let lang = signed.lang;
    let Ok(release) = ReleaseId::parse(&id) else {
        return not_found(lang);
    };
    match state
        .hub
        .release_file(&signed.caller(), &release, &name)
        .await
    {
        Ok(download) => {
            let disposition = format!(
                "attachment; filename=\"{}\"",
                download.file.name.replace(['"', '\\'], "_")
            );
            let mut response = download.bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                headers.insert(CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(e) => match refusal(lang, e) {
            Ok(message) => {
                detail(&state, &signed, &id, Some(&message), StatusCode::FORBIDDEN).await
            }
            Err(page) => *page,
        },
    }
}
