//! A project in the browser: the signed-in person's projects, one project's page (its
//! application, state, members, permit, history, release requests) and what can be
//! done there, each through the hub's use case as for the API: submitting a draft,
//! adding a member, a steward's decision (approve, reject, close), the permit editor,
//! a new release request. The hub decides who may do what; the page offers what the
//! viewer's roles suggest and shows the hub's refusal otherwise.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use bastide_access::{NewRelease, Permit, Project, Release, Role, State as ProjectState};
use bastide_core::ids::ProjectId;
use bastide_hub::Decision;
use maud::{Markup, html};

use super::i18n::Text;
use super::layout::{Nav, alert, csrf, day, moment, page};
use super::pages::{project_state, release_state};
use super::permit_editor;
use super::session::redirect;
use super::signed::{Fields, Posted, Signed, not_found, refusal};
use crate::api::AppState;

/// The signed-in person's projects (a steward's: every project they see).
pub(super) async fn list(State(state): State<AppState>, signed: Signed) -> Response {
    let lang = signed.lang;
    match state.hub.projects(&signed.caller()).await {
        Ok(projects) => Html(projects_page(&signed, &projects).into_string()).into_response(),
        Err(e) => super::unavailable(lang, &e),
    }
}

fn projects_page(signed: &Signed, projects: &[Project]) -> Markup {
    let lang = signed.lang;
    let t = |key| lang.t(key);
    let content = html! {
        p { a.button href="/projects/new" { (t(Text::Apply)) } }
        @if projects.is_empty() {
            p.empty { (t(Text::NoOwnProject)) }
        } @else {
            table.projects {
                caption.visually-hidden { (t(Text::MyProjects)) }
                thead {
                    tr {
                        th scope="col" { (t(Text::Title)) }
                        th scope="col" { (t(Text::Dataset)) }
                        th scope="col" { (t(Text::State)) }
                    }
                }
                tbody {
                    @for project in projects {
                        tr {
                            th scope="row" { a href={ "/projects/" (project.id) } { (project.application.title) } }
                            td { code { (project.application.dataset) } }
                            td { (project_state(lang, project.state)) }
                        }
                    }
                }
            }
        }
    };
    page(
        lang,
        Some(&signed.viewer),
        t(Text::MyProjects),
        Nav::Projects,
        "/projects",
        content,
    )
}

/// One project's page.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: Signed,
) -> Response {
    detail(&state, &signed, &id, None, None, StatusCode::OK).await
}

/// The project's page, with `refused`'s reason and the permit editor's fields as
/// `typed` when an action was refused.
async fn detail(
    state: &AppState,
    signed: &Signed,
    id: &str,
    refused: Option<&str>,
    typed: Option<&Fields>,
    status: StatusCode,
) -> Response {
    let lang = signed.lang;
    let Ok(project_id) = ProjectId::parse(id) else {
        return not_found(lang);
    };
    let caller = signed.caller();
    let project = match state.hub.project(&caller, &project_id).await {
        Ok(project) => project,
        Err(e) => {
            return match refusal(lang, e) {
                Ok(_) => not_found(lang),
                Err(page) => *page,
            };
        }
    };
    // A permit that could not be read must not look absent: the editor would start
    // from the application and a grant would replace it.
    let permits = match state.hub.permits(&caller, &project_id).await {
        Ok(permits) => permits,
        Err(e) => {
            return match refusal(lang, e) {
                Ok(_) => not_found(lang),
                Err(page) => *page,
            };
        }
    };
    let releases = state
        .hub
        .releases(&caller, Some(&project_id))
        .await
        .unwrap_or_default();
    let steward = signed.viewer.roles.has(Role::Steward);
    let editor =
        if steward && matches!(project.state, ProjectState::Approved | ProjectState::Active) {
            match state.hub.catalogue().await {
                Ok(catalogue) => catalogue
                    .into_iter()
                    .find(|d| d.name == project.application.dataset)
                    .map(|dataset| {
                        permit_editor::form(
                            lang,
                            &signed.viewer.csrf,
                            &project,
                            permits.first(),
                            &dataset,
                            typed,
                        )
                    }),
                Err(e) => return super::unavailable(lang, &e),
            }
        } else {
            None
        };
    let content = project_content(
        signed,
        &project,
        permits.first(),
        &releases,
        editor,
        refused,
    );
    let path = format!("/projects/{}", project.id);
    (
        status,
        Html(
            page(
                lang,
                Some(&signed.viewer),
                &project.application.title,
                Nav::Projects,
                &path,
                content,
            )
            .into_string(),
        ),
    )
        .into_response()
}

fn project_content(
    signed: &Signed,
    project: &Project,
    permit: Option<&Permit>,
    releases: &[Release],
    editor: Option<Markup>,
    refused: Option<&str>,
) -> Markup {
    let lang = signed.lang;
    let t = |key| lang.t(key);
    let token = signed.viewer.csrf.as_str();
    let member = project.members.contains(&signed.viewer.name);
    let steward = signed.viewer.roles.has(Role::Steward);
    let action = |to: &str| format!("/projects/{}/{to}", project.id);
    let app = &project.application;
    html! {
        (alert(refused))
        p.meta {
            (t(Text::State)) " : " strong.state { (project_state(lang, project.state)) }
            " · " (lang.pick("créé le", "created")) " " (day(project.created_at))
        }
        @if member && project.state == ProjectState::Active {
            p.actions {
                a.button href={ "/projects/" (project.id) "/console" } { (lang.pick("Ouvrir la console SQL", "Open the SQL console")) }
            }
        }
        section aria-labelledby="application" {
            h2 #application { (lang.pick("Demande", "Application")) }
            dl {
                dt { (t(Text::Purpose)) } dd { (app.purpose) }
                dt { (t(Text::LegalBasis)) } dd { (app.legal_basis) }
                dt { (t(Text::Organisation)) } dd { (app.organisation) }
                dt { (t(Text::Dataset)) } dd { code { (app.dataset) } }
                dt { (lang.pick("Tables demandées", "Tables asked for")) }
                dd { @for (i, table) in app.tables.iter().enumerate() { @if i > 0 { ", " } code { (table.name) } } }
                dt { (t(Text::DurationDays)) } dd { (app.duration_days) }
                dt { (lang.pick("Membres", "Members")) } dd { (project.members.join(", ")) }
            }
            @if member && project.state == ProjectState::Draft {
                form.inline method="post" action=(action("submit")) {
                    (csrf(token))
                    button type="submit" { (lang.pick("Soumettre la demande", "Submit the application")) }
                }
            }
            @if (member && project.state == ProjectState::Draft) || (steward && project.state != ProjectState::Closed) {
                form.row method="post" action=(action("members")) {
                    (csrf(token))
                    label for="member" { (lang.pick("Ajouter un membre (nom d'utilisateur)", "Add a member (user name)")) }
                    input #member type="text" name="member" required;
                    button type="submit" { (lang.pick("Ajouter", "Add")) }
                }
            }
        }
        @if steward && !member && matches!(project.state, ProjectState::Submitted | ProjectState::Approved | ProjectState::Active) {
            section aria-labelledby="decision" {
                h2 #decision { (lang.pick("Décision", "Decision")) }
                form.decision method="post" action=(action("decision")) {
                    (csrf(token))
                    div.field {
                        label for="note" { (lang.pick("Motif (versé à l'historique du projet)", "Reason (kept in the project's history)")) }
                        textarea #note name="note" rows="2" {}
                    }
                    div.buttons {
                        @if project.state == ProjectState::Submitted {
                            button type="submit" name="decision" value="approve" { (lang.pick("Autoriser", "Approve")) }
                            button type="submit" name="decision" value="reject" { (lang.pick("Refuser", "Reject")) }
                        } @else {
                            button type="submit" name="decision" value="close" { (lang.pick("Clore le projet (révoque l'autorisation)", "Close the project (revokes the permit)")) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="permit" {
            h2 #permit { (lang.pick("Autorisation d'accès", "Data permit")) }
            @match permit {
                Some(permit) => { (permit_editor::summary(lang, permit)) },
                None => { p.empty { (lang.pick("Aucune autorisation accordée.", "No permit granted.")) } },
            }
            @if let Some(editor) = editor { (editor) }
        }
        @if project.state == ProjectState::Active || !releases.is_empty() {
            section aria-labelledby="releases" {
                h2 #releases { (lang.pick("Demandes de sortie de résultats", "Release requests")) }
                @if releases.is_empty() {
                    p.empty { (lang.pick("Aucune demande.", "No request.")) }
                } @else {
                    ul {
                        @for release in releases {
                            li { a href={ "/releases/" (release.id) } { (release.title) } " · " (release_state(lang, release.state)) }
                        }
                    }
                }
                @if member && project.state == ProjectState::Active {
                    form.release method="post" action=(action("releases")) {
                        (csrf(token))
                        div.field {
                            label for="release-title" { (t(Text::Title)) }
                            input #release-title type="text" name="title" required;
                        }
                        div.field {
                            label for="justification" { (lang.pick("Justification", "Justification")) }
                            textarea #justification name="justification" rows="2" required {}
                        }
                        button type="submit" { (lang.pick("Préparer une demande de sortie", "Prepare a release request")) }
                    }
                }
            }
        }
        section aria-labelledby="history" {
            h2 #history { (lang.pick("Historique", "History")) }
            ol.history {
                @for step in &project.history {
                    li {
                        (moment(step.at)) " · " (step.actor) " · " (project_state(lang, step.to))
                        @if !step.note.is_empty() { " · " (step.note) }
                    }
                }
            }
        }
    }
}

/// Runs `act` for the project `id` and goes back to its page, or shows it with the
/// refusal and what was typed.
async fn acted<T>(
    state: &AppState,
    posted: &Posted,
    id: &str,
    result: bastide_hub::Result<T>,
) -> Response {
    match result {
        Ok(_) => redirect(format!("/projects/{id}"), []),
        Err(e) => match refusal(posted.signed.lang, e) {
            Ok(message) => {
                detail(
                    state,
                    &posted.signed,
                    id,
                    Some(&message),
                    Some(&posted.fields),
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            Err(page) => *page,
        },
    }
}

/// A member submits the draft.
pub(super) async fn submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Ok(project) = ProjectId::parse(&id) else {
        return not_found(posted.signed.lang);
    };
    let result = state
        .hub
        .decide(&posted.signed.caller(), &project, Decision::Submit, "")
        .await;
    acted(&state, &posted, &id, result).await
}

/// A member (draft) or a steward adds a member.
pub(super) async fn add_member(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Ok(project) = ProjectId::parse(&id) else {
        return not_found(posted.signed.lang);
    };
    let member = posted.fields.get("member").trim().to_owned();
    let result = state
        .hub
        .add_member(&posted.signed.caller(), &project, &member)
        .await;
    acted(&state, &posted, &id, result).await
}

/// A steward's decision: approve, reject, close.
pub(super) async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Ok(project) = ProjectId::parse(&id) else {
        return not_found(posted.signed.lang);
    };
    let decision = match posted.fields.get("decision") {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        "close" => Decision::Close,
        _ => {
            let lang = posted.signed.lang;
            let message = lang.pick("Choisissez une décision.", "Choose a decision.");
            return detail(
                &state,
                &posted.signed,
                &id,
                Some(message),
                None,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let note = posted.fields.get("note").trim().to_owned();
    let result = state
        .hub
        .decide(&posted.signed.caller(), &project, decision, &note)
        .await;
    acted(&state, &posted, &id, result).await
}

/// A steward grants a permit (a new version).
pub(super) async fn grant(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let lang = posted.signed.lang;
    let Ok(project) = ProjectId::parse(&id) else {
        return not_found(lang);
    };
    let caller = posted.signed.caller();
    let dataset = match state.hub.project(&caller, &project).await {
        Ok(p) => p.application.dataset,
        Err(_) => return not_found(lang),
    };
    let columns = match state.hub.catalogue().await {
        Ok(catalogue) => catalogue.into_iter().find(|d| d.name == dataset),
        Err(e) => return super::unavailable(lang, &e),
    };
    let Some(entry) = columns else {
        return not_found(lang);
    };
    let grant = match permit_editor::grant(lang, &posted.fields, &entry) {
        Ok(grant) => grant,
        Err(message) => {
            return detail(
                &state,
                &posted.signed,
                &id,
                Some(&message),
                Some(&posted.fields),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let result = state.hub.grant(&caller, &project, grant).await;
    acted(&state, &posted, &id, result).await
}

/// A member starts a release request, and goes to it.
pub(super) async fn new_release(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Ok(project) = ProjectId::parse(&id) else {
        return not_found(posted.signed.lang);
    };
    let new = NewRelease {
        title: posted.fields.get("title").trim().to_owned(),
        justification: posted.fields.get("justification").trim().to_owned(),
    };
    match state
        .hub
        .create_release(&posted.signed.caller(), &project, new)
        .await
    {
        Ok(release) => redirect(format!("/releases/{}", release.id), []),
        Err(e) => acted::<()>(&state, &posted, &id, Err(e)).await,
    }
}
