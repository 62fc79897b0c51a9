//! The steward's desk: applications to review, projects under a permit, release
//! requests waiting for reviewers, the opt-out desk (recording a person's objection;
//! the identifier typed travels in the form's body only and is never shown back) and
//! the access review (who may see what, now). Each through the hub's use cases, which
//! check the steward's role and record the audit events.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use bastide_access::{AccessLine, Mode, Project, Release, ReleaseState, State as ProjectState};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{Nav, alert, csrf, day, notice, page};
use super::pages::{project_state, release_state};
use super::signed::{Posted, Signed, forbidden, refusal};
use crate::api::AppState;

/// What was just done, said on the desk.
#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

/// The desk.
pub(super) async fn desk(
    State(state): State<AppState>,
    Query(done): Query<Done>,
    signed: Signed,
) -> Response {
    let lang = signed.lang;
    let said = match done.done.as_deref() {
        Some("recorded") => Some(lang.pick("Opposition enregistrée.", "Objection recorded.")),
        Some("known") => Some(lang.pick(
            "Cette personne s'était déjà opposée : rien de plus à faire.",
            "This person had objected before: nothing more to do.",
        )),
        _ => None,
    };
    render(&state, &signed, None, said, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    signed: &Signed,
    refused: Option<&str>,
    done: Option<&str>,
    status: StatusCode,
) -> Response {
    let lang = signed.lang;
    let caller = signed.caller();
    let access = match state.hub.access_review(&caller).await {
        Ok(lines) => lines,
        Err(e) => {
            return match refusal(lang, e) {
                Ok(message) => {
                    let title = lang.pick("Instruction", "Review");
                    forbidden(signed, title, Nav::Review, "/review", &message)
                }
                Err(page) => *page,
            };
        }
    };
    let projects = state.hub.projects(&caller).await.unwrap_or_default();
    let releases = state.hub.releases(&caller, None).await.unwrap_or_default();
    let opt_outs = state.hub.opt_out_count(&caller).await.ok();
    let content = html! {
        (alert(refused))
        (notice(done))
        (applications(signed, &projects))
        (waiting_releases(signed, &releases))
        (opt_out_desk(signed, opt_outs))
        (access_review(signed, &access))
    };
    (
        status,
        Html(
            page(
                lang,
                Some(&signed.viewer),
                lang.pick("Instruction", "Review"),
                Nav::Review,
                "/review",
                content,
            )
            .into_string(),
        ),
    )
        .into_response()
}

fn applications(signed: &Signed, projects: &[Project]) -> Markup {
    let lang = signed.lang;
    let submitted: Vec<&Project> = projects
        .iter()
        .filter(|p| p.state == ProjectState::Submitted)
        .collect();
    let running: Vec<&Project> = projects
        .iter()
        .filter(|p| matches!(p.state, ProjectState::Approved | ProjectState::Active))
        .collect();
    let list = |projects: &[&Project]| {
        html! {
            ul {
                @for p in projects {
                    li {
                        a href={ "/projects/" (p.id) } { (p.application.title) }
                        " · " (p.application.organisation) " · " (project_state(lang, p.state))
                    }
                }
            }
        }
    };
    html! {
        section aria-labelledby="applications" {
            h2 #applications { (lang.pick("Demandes à instruire", "Applications to review")) }
            @if submitted.is_empty() {
                p.empty { (lang.pick("Aucune demande soumise.", "No application submitted.")) }
            } @else { (list(&submitted)) }
            h3 { (lang.pick("Projets autorisés", "Approved projects")) }
            @if running.is_empty() {
                p.empty { (lang.pick("Aucun.", "None.")) }
            } @else { (list(&running)) }
        }
    }
}

fn waiting_releases(signed: &Signed, releases: &[Release]) -> Markup {
    let lang = signed.lang;
    let waiting: Vec<&Release> = releases
        .iter()
        .filter(|r| {
            matches!(
                r.state,
                ReleaseState::Submitted | ReleaseState::PartiallyReviewed | ReleaseState::Approved
            )
        })
        .collect();
    html! {
        section aria-labelledby="release-reviews" {
            h2 #release-reviews { (lang.pick("Demandes de sortie à relire", "Release requests to review")) }
            @if waiting.is_empty() {
                p.empty { (lang.pick("Aucune demande en attente.", "No request waiting.")) }
            } @else {
                ul {
                    @for r in waiting {
                        li {
                            a href={ "/releases/" (r.id) } { (r.title) }
                            " · " (r.requested_by) " · " (release_state(lang, r.state))
                            " · " (r.approvals.len()) "/" (bastide_access::APPROVALS_NEEDED)
                        }
                    }
                }
            }
        }
    }
}

fn opt_out_desk(signed: &Signed, count: Option<usize>) -> Markup {
    let lang = signed.lang;
    html! {
        section aria-labelledby="opt-outs" {
            h2 #opt-outs { (lang.pick("Registre des oppositions", "Opt-out register")) }
            @if let Some(count) = count {
                p { (count) " " (lang.pick("oppositions enregistrées : leurs données sont retirées de chaque espace de travail.", "objections recorded: their data is left out of every workspace.")) }
            }
            form.row method="post" action="/review/opt-outs" autocomplete="off" {
                (csrf(&signed.viewer.csrf))
                label for="identifier" { (lang.pick("Identifiant de la personne (tel que chez le producteur)", "The person's identifier (as the producer holds it)")) }
                input #identifier type="text" name="identifier" required autocomplete="off" spellcheck="false" autocapitalize="off" aria-describedby="identifier-hint";
                button type="submit" { (lang.pick("Enregistrer l'opposition", "Record the objection")) }
                p #identifier-hint .hint { (lang.pick(
                    "Il n'est ni affiché ni conservé en clair : le hub n'en garde que le pseudonyme.",
                    "It is neither shown nor kept in clear: the hub keeps only its pseudonym.",
                )) }
            }
        }
    }
}

fn access_review(signed: &Signed, lines: &[AccessLine]) -> Markup {
    let lang = signed.lang;
    html! {
        section aria-labelledby="access" {
            h2 #access { (lang.pick("Revue des accès", "Access review")) }
            p { a href="/api/v1/access-review?format=csv" download="access-review.csv" { (lang.pick("Télécharger en CSV", "Download as CSV")) } }
            @if lines.is_empty() {
                p.empty { (lang.pick("Personne n'a accès à des données.", "No one has access to data.")) }
            } @else {
                div.scroll tabindex="0" {
                    table {
                        caption.visually-hidden { (lang.pick("Revue des accès", "Access review")) }
                        thead { tr {
                            th scope="col" { (lang.pick("Utilisateur", "User")) }
                            th scope="col" { (lang.pick("Projet", "Project")) }
                            th scope="col" { "Table" }
                            th scope="col" { (lang.pick("Colonnes", "Columns")) }
                            th scope="col" { (lang.pick("Filtré", "Filtered")) }
                            th scope="col" { (lang.pick("Mode", "Mode")) }
                            th scope="col" { (lang.pick("Jusqu'au", "Until")) }
                        } }
                        tbody {
                            @for line in lines {
                                tr {
                                    td { (line.user) }
                                    td { a href={ "/projects/" (line.project) } { (line.project) } " v" (line.permit_version) }
                                    td { code { (line.table) } }
                                    td.num { (line.columns) }
                                    td { (if line.filtered { lang.pick("oui", "yes") } else { lang.pick("non", "no") }) }
                                    td { (match line.mode { Mode::AggregateOnly => lang.pick("agrégats", "aggregates"), Mode::RowLevel => lang.pick("lignes", "rows") }) }
                                    td { (day(line.until)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Records a person's objection.
pub(super) async fn record_opt_out(State(state): State<AppState>, posted: Posted) -> Response {
    let signed = &posted.signed;
    let lang = signed.lang;
    let identifier = posted.fields.get("identifier");
    match state.hub.record_opt_out(&signed.caller(), identifier).await {
        // Back to the desk by a redirect: reloading it sends the identifier nowhere.
        Ok(recorded) => super::session::redirect(
            if recorded.recorded {
                "/review?done=recorded"
            } else {
                "/review?done=known"
            },
            [],
        ),
        Err(e) => match refusal(lang, e) {
            Ok(message) => {
                render(
                    &state,
                    signed,
                    Some(&message),
                    None,
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            Err(page) => *page,
        },
    }
}
