//! The signed-in person's account: their roles, setting up a second factor (TOTP: a
//! secret shown once, counted once a first code is confirmed) and their API tokens for
//! their own tools (R, Python, psql: a token bound to one project acts there only; its
//! secret shown once). Through the hub's use cases, as for the API.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use bastide_access::State as ProjectState;
use bastide_core::ids::ProjectId;
use bastide_hub::{NewToken, TotpEnrolment};
use maud::html;

use super::layout::{Nav, alert, csrf, day, notice, page};
use super::signed::{Fields, Posted, Signed, refusal};
use crate::api::AppState;

/// What to say above the page.
#[derive(Default)]
struct Said {
    refused: Option<String>,
    done: Option<String>,
    /// A token's secret, shown once.
    secret: Option<String>,
    /// A second factor being set up.
    enrolment: Option<TotpEnrolment>,
}

/// The account page.
pub(super) async fn show(State(state): State<AppState>, signed: Signed) -> Response {
    render(&state, &signed, Said::default(), StatusCode::OK).await
}

async fn render(state: &AppState, signed: &Signed, said: Said, status: StatusCode) -> Response {
    let lang = signed.lang;
    let caller = signed.caller();
    let tokens = state
        .hub
        .tokens(&caller, Some(&signed.viewer.name))
        .await
        .unwrap_or_default();
    let projects: Vec<(String, String)> = state
        .hub
        .projects(&caller)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.state == ProjectState::Active && p.members.contains(&signed.viewer.name))
        .map(|p| (p.id, p.application.title))
        .collect();
    let token = signed.viewer.csrf.as_str();
    let content = html! {
        (alert(said.refused.as_deref()))
        (notice(said.done.as_deref()))
        @if let Some(secret) = &said.secret {
            div.notice role="status" {
                p { (lang.pick("Le secret du jeton, affiché une seule fois : copiez-le maintenant.", "The token's secret, shown once: copy it now.")) }
                p { code.secret { (secret) } }
            }
        }
        dl {
            dt { (lang.pick("Nom d'utilisateur", "User name")) } dd { (signed.viewer.name) }
            dt { (lang.pick("Rôles", "Roles")) } dd { (signed.viewer.roles.names().join(", ")) }
        }
        section aria-labelledby="totp" {
            h2 #totp { (lang.pick("Second facteur (TOTP)", "Second factor (TOTP)")) }
            @match &said.enrolment {
                Some(enrolment) => {
                    p { (lang.pick(
                        "Saisissez ce secret dans votre application d'authentification (ou l'adresse otpauth ci-dessous), puis le code qu'elle affiche. Il n'est montré qu'une fois.",
                        "Type this secret into your authenticator app (or the otpauth address below), then the code it shows. It is shown once only.",
                    )) }
                    p { code.secret { (enrolment.secret) } }
                    p.hint { code.secret { (enrolment.uri) } }
                    form.row method="post" action="/account/totp/confirm" {
                        (csrf(token))
                        label for="code" { (lang.pick("Code affiché", "Code shown")) }
                        input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required;
                        button type="submit" { (lang.pick("Confirmer", "Confirm")) }
                    }
                },
                None => {
                    p { (lang.pick(
                        "Un second facteur demande, à chaque connexion par mot de passe, le code à six chiffres de votre application d'authentification.",
                        "A second factor asks, at every password sign-in, for the six-digit code of your authenticator app.",
                    )) }
                    form.inline method="post" action="/account/totp" {
                        (csrf(token))
                        button type="submit" { (lang.pick("Mettre en place un second facteur", "Set up a second factor")) }
                    }
                },
            }
        }
        section aria-labelledby="my-tokens" {
            h2 #my-tokens { (lang.pick("Mes jetons d'API", "My API tokens")) }
            p.hint { (lang.pick(
                "Pour R, Python ou psql : un jeton lié à un projet n'agit que dans son espace de travail.",
                "For R, Python or psql: a token bound to a project acts in its workspace only.",
            )) }
            @if tokens.is_empty() { p.empty { (lang.pick("Aucun jeton.", "No token.")) } } @else {
                ul {
                    @for t in &tokens {
                        li {
                            (t.name) " · " (lang.pick("expire le", "expires")) " " (day(t.expires_at))
                            @if let Some(p) = &t.project { " · " (lang.pick("projet", "project")) " " (p) }
                            @if t.revoked_at.is_some() { " · " (lang.pick("révoqué", "revoked")) } @else {
                                " "
                                form.inline method="post" action="/account/tokens/revoke" {
                                    (csrf(token))
                                    input type="hidden" name="id" value=(t.id);
                                    button.secondary type="submit" { (lang.pick("Révoquer", "Revoke")) span.visually-hidden { " " (t.name) } }
                                }
                            }
                        }
                    }
                }
            }
            form.row method="post" action="/account/tokens" {
                (csrf(token))
                label for="my-token-name" { (lang.pick("Nouveau jeton : nom", "New token: name")) }
                input #my-token-name type="text" name="name" required;
                label for="my-token-project" { (lang.pick("projet", "project")) }
                select #my-token-project name="project" {
                    option value="" { (lang.pick("(aucun : tout mon compte)", "(none: my whole account)")) }
                    @for (id, title) in &projects { option value=(id) { (title) } }
                }
                label for="my-token-days" { (lang.pick("jours", "days")) }
                input #my-token-days type="number" name="days" min="1" max="365" value="30" required;
                button type="submit" { (lang.pick("Créer", "Create")) }
            }
        }
    };
    let title = lang.pick("Mon compte", "My account");
    (
        status,
        Html(
            page(
                lang,
                Some(&signed.viewer),
                title,
                Nav::None,
                "/account",
                content,
            )
            .into_string(),
        ),
    )
        .into_response()
}

/// Starts setting up a second factor.
pub(super) async fn enrol(State(state): State<AppState>, posted: Posted) -> Response {
    let signed = &posted.signed;
    match state.hub.enrol_totp(&signed.caller()).await {
        Ok(enrolment) => {
            let said = Said {
                enrolment: Some(enrolment),
                ..Said::default()
            };
            render(&state, signed, said, StatusCode::OK).await
        }
        Err(e) => refused(&state, signed, e).await,
    }
}

/// Confirms the second factor with a first code.
pub(super) async fn confirm(State(state): State<AppState>, posted: Posted) -> Response {
    let signed = &posted.signed;
    let code = posted.fields.get("code").trim().to_owned();
    match state.hub.confirm_totp(&signed.caller(), &code).await {
        Ok(_) => {
            let said = Said {
                done: Some(
                    signed
                        .lang
                        .pick(
                            "Second facteur en place : vos connexions par mot de passe demandent désormais un code.",
                            "Second factor set up: your password sign-ins now ask for a code.",
                        )
                        .to_owned(),
                ),
                ..Said::default()
            };
            render(&state, signed, said, StatusCode::OK).await
        }
        Err(e) => refused(&state, signed, e).await,
    }
}

/// The token a form asks for: `name`, `days`, and `owner` and `project` when given.
pub(super) fn new_token(fields: &Fields, lang: super::i18n::Lang) -> Result<NewToken, String> {
    let days = fields.get("days").trim().parse::<u32>().map_err(|_| {
        lang.pick("Jours : un nombre entier.", "Days: a whole number.")
            .to_owned()
    })?;
    let project = match fields.get("project").trim() {
        "" => None,
        id => Some(
            ProjectId::parse(id)
                .map_err(|_| lang.pick("Projet inconnu.", "Unknown project.").to_owned())?,
        ),
    };
    let owner = fields.get("owner").trim();
    Ok(NewToken {
        owner: (!owner.is_empty()).then(|| owner.to_owned()),
        name: fields.get("name").trim().to_owned(),
        project,
        days,
    })
}

/// Creates one of the person's tokens; its secret is shown once.
pub(super) async fn create_token(State(state): State<AppState>, posted: Posted) -> Response {
    let signed = &posted.signed;
    let new = match new_token(&posted.fields, signed.lang) {
        Ok(new) => NewToken { owner: None, ..new },
        Err(message) => {
            let said = Said {
                refused: Some(message),
                ..Said::default()
            };
            return render(&state, signed, said, StatusCode::BAD_REQUEST).await;
        }
    };
    match state.hub.create_token(&signed.caller(), new).await {
        Ok(issued) => {
            let said = Said {
                secret: Some(issued.secret),
                ..Said::default()
            };
            render(&state, signed, said, StatusCode::OK).await
        }
        Err(e) => refused(&state, signed, e).await,
    }
}

/// Revokes one of the person's tokens.
pub(super) async fn revoke_token(State(state): State<AppState>, posted: Posted) -> Response {
    let signed = &posted.signed;
    let id = posted.fields.get("id").to_owned();
    match state.hub.revoke_token(&signed.caller(), &id).await {
        Ok(t) => {
            let said = Said {
                done: Some(format!(
                    "{} {}",
                    signed.lang.pick("Jeton révoqué :", "Token revoked:"),
                    t.name
                )),
                ..Said::default()
            };
            render(&state, signed, said, StatusCode::OK).await
        }
        Err(e) => refused(&state, signed, e).await,
    }
}

async fn refused(state: &AppState, signed: &Signed, error: bastide_hub::Error) -> Response {
    match refusal(signed.lang, error) {
        Ok(message) => {
            let said = Said {
                refused: Some(message),
                ..Said::default()
            };
            render(state, signed, said, StatusCode::BAD_REQUEST).await
        }
        Err(page) => *page,
    }
}
