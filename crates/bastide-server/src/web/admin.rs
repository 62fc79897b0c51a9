//! The administrator's pages: users and their roles (create, disable), API tokens
//! (one's own, or anyone's; a new token's secret shown once, never again), the keys
//! (provider, key-encryption keys, data keys wrapped) and the storage (metadata
//! database and object storage answering, the datasets stored). Each through the hub's
//! use cases, which check the administrator's role and record the audit events. An
//! administrator sees no data by this role.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use bastide_access::{NewUser, Role};
use maud::{Markup, html};

use super::i18n::Lang;
use super::layout::{Nav, alert, csrf, day, notice, page};
use super::signed::{Posted, Signed, forbidden, refusal};
use crate::api::AppState;

/// Something done, to say above the page: a message, and a secret shown once.
#[derive(Default)]
struct Done {
    message: Option<String>,
    secret: Option<String>,
}

/// The administration page.
pub(super) async fn show(State(state): State<AppState>, signed: Signed) -> Response {
    render(&state, &signed, None, Done::default(), StatusCode::OK).await
}

async fn render(
    state: &AppState,
    signed: &Signed,
    refused: Option<&str>,
    done: Done,
    status: StatusCode,
) -> Response {
    let lang = signed.lang;
    let caller = signed.caller();
    let title = lang.pick("Administration", "Administration");
    let users = match state.hub.users(&caller).await {
        Ok(users) => users,
        Err(e) => {
            return match refusal(lang, e) {
                Ok(message) => forbidden(signed, title, Nav::Admin, "/admin", &message),
                Err(page) => *page,
            };
        }
    };
    let tokens = state.hub.tokens(&caller, None).await.unwrap_or_default();
    let keys = state.hub.key_status(&caller).await.ok();
    let (metadata, storage) = state.hub.readiness(std::time::Duration::from_secs(2)).await;
    let datasets = state.hub.stored_datasets(&caller).await.unwrap_or_default();
    let token = signed.viewer.csrf.as_str();
    let up = |result: &Result<(), String>| match result {
        Ok(()) => html! { span.badge.ok { (lang.pick("répond", "answering")) } },
        Err(_) => {
            html! { span.badge.warn { (lang.pick("ne répond pas (voir le journal du hub)", "not answering (see the hub's log)")) } }
        }
    };
    let content = html! {
        (alert(refused))
        (notice(done.message.as_deref()))
        @if let Some(secret) = &done.secret {
            div.notice role="status" {
                p { (lang.pick("Le secret, affiché une seule fois : copiez-le maintenant.", "The secret, shown once: copy it now.")) }
                p { code.secret { (secret) } }
            }
        }
        section aria-labelledby="users" {
            h2 #users { (lang.pick("Utilisateurs", "Users")) }
            div.scroll tabindex="0" { table {
                caption.visually-hidden { (lang.pick("Utilisateurs", "Users")) }
                thead { tr {
                    th scope="col" { (lang.pick("Nom", "Name")) }
                    th scope="col" { (lang.pick("Rôles", "Roles")) }
                    th scope="col" { (lang.pick("Compte", "Account")) }
                    th scope="col" { (lang.pick("État", "State")) }
                    th scope="col" { span.visually-hidden { (lang.pick("Actions", "Actions")) } }
                } }
                tbody { @for user in &users { tr {
                    th scope="row" { (user.name) @if user.display_name != user.name { " · " (user.display_name) } }
                    td { (user.roles.names().join(", ")) }
                    td { (if user.local { lang.pick("local", "local") } else { "OpenID Connect" }) @if user.totp_required { " · TOTP" } }
                    td { (if user.disabled { lang.pick("désactivé", "disabled") } else { lang.pick("actif", "active") }) }
                    td { @if !user.disabled && user.name != signed.viewer.name {
                        form.inline method="post" action="/admin/users/disable" {
                            (csrf(token))
                            input type="hidden" name="name" value=(user.name);
                            button.secondary type="submit" { (lang.pick("Désactiver", "Disable")) span.visually-hidden { " " (user.name) } }
                        }
                    } }
                } } }
            } }
            (new_user_form(lang, token))
        }
        section aria-labelledby="tokens" {
            h2 #tokens { (lang.pick("Jetons d'API", "API tokens")) }
            @if tokens.is_empty() { p.empty { (lang.pick("Aucun jeton.", "No token.")) } } @else {
                div.scroll tabindex="0" { table {
                    caption.visually-hidden { (lang.pick("Jetons d'API", "API tokens")) }
                    thead { tr {
                        th scope="col" { (lang.pick("Nom", "Name")) }
                        th scope="col" { (lang.pick("Titulaire", "Owner")) }
                        th scope="col" { (lang.pick("Projet", "Project")) }
                        th scope="col" { (lang.pick("Expire le", "Expires")) }
                        th scope="col" { (lang.pick("État", "State")) }
                        th scope="col" { span.visually-hidden { (lang.pick("Actions", "Actions")) } }
                    } }
                    tbody { @for t in &tokens { tr {
                        th scope="row" { (t.name) }
                        td { (t.user) }
                        td { @if let Some(p) = &t.project { (p) } }
                        td { (day(t.expires_at)) }
                        td { (if t.revoked_at.is_some() { lang.pick("révoqué", "revoked") } else { lang.pick("valide", "valid") }) }
                        td { @if t.revoked_at.is_none() {
                            form.inline method="post" action="/admin/tokens/revoke" {
                                (csrf(token))
                                input type="hidden" name="id" value=(t.id);
                                button.secondary type="submit" { (lang.pick("Révoquer", "Revoke")) span.visually-hidden { " " (t.name) } }
                            }
                        } }
                    } } }
                } }
            }
            form.row method="post" action="/admin/tokens" {
                (csrf(token))
                label for="token-name" { (lang.pick("Nouveau jeton : nom", "New token: name")) }
                input #token-name type="text" name="name" required;
                label for="token-owner" { (lang.pick("titulaire (vous par défaut)", "owner (you by default)")) }
                input #token-owner type="text" name="owner";
                label for="token-days" { (lang.pick("jours", "days")) }
                input #token-days type="number" name="days" min="1" max="365" value="30" required;
                button type="submit" { (lang.pick("Créer", "Create")) }
            }
        }
        section aria-labelledby="keys" {
            h2 #keys { (lang.pick("Clés", "Keys")) }
            @match &keys {
                Some(keys) => {
                    dl {
                        dt { (lang.pick("Fournisseur", "Provider")) } dd { code { (keys.provider) } }
                        dt { (lang.pick("Clés de chiffrement de clés", "Key-encryption keys")) }
                        dd { @for k in &keys.keks { code { (k.id) } @if k.current { " (" (lang.pick("courante", "current")) ")" } " " } }
                        dt { (lang.pick("Clés de données", "Data keys")) }
                        dd { @for (kek, n) in &keys.data_keys { (n) " " (lang.pick("sous", "under")) " " code { (kek) } " " } }
                        dt { (lang.pick("Détruites", "Shredded")) } dd { (keys.shredded) }
                    }
                },
                None => { p.empty { (lang.pick("État des clés indisponible.", "Key status unavailable.")) } },
            }
        }
        section aria-labelledby="storage" {
            h2 #storage { (lang.pick("Stockage", "Storage")) }
            dl {
                dt { (lang.pick("Base de métadonnées", "Metadata database")) } dd { (up(&metadata)) }
                dt { (lang.pick("Stockage objet", "Object storage")) } dd { (up(&storage)) }
                @for d in &datasets {
                    dt { code { (d.name) } }
                    dd {
                        @match d.version { Some(v) => { "v" (v) }, None => { (lang.pick("vide", "empty")) } }
                        " · " (d.tables.len()) " " (lang.pick("tables", "tables")) " · "
                        (d.tables.iter().map(|t| t.rows).sum::<u64>()) " " (lang.pick("lignes", "rows"))
                    }
                }
            }
        }
    };
    (
        status,
        Html(
            page(
                lang,
                Some(&signed.viewer),
                title,
                Nav::Admin,
                "/admin",
                content,
            )
            .into_string(),
        ),
    )
        .into_response()
}

fn new_user_form(lang: Lang, token: &str) -> Markup {
    html! {
        form.new-user method="post" action="/admin/users" {
            (csrf(token))
            h3 { (lang.pick("Nouvel utilisateur", "New user")) }
            div.field {
                label for="user-name" { (lang.pick("Nom d'utilisateur", "User name")) }
                input #user-name type="text" name="name" required autocomplete="off";
            }
            div.field {
                label for="display-name" { (lang.pick("Nom affiché", "Display name")) }
                input #display-name type="text" name="display_name" autocomplete="off";
            }
            fieldset {
                legend { (lang.pick("Rôles", "Roles")) }
                @for role in Role::ALL {
                    @let id = format!("role-{}", role.as_str());
                    div.check {
                        input id=(id) type="checkbox" name="role" value=(role.as_str());
                        label for=(id) { (role.as_str()) }
                    }
                }
            }
            p.hint { (lang.pick("Un mot de passe est généré et affiché une seule fois.", "A password is generated and shown once.")) }
            button type="submit" { (lang.pick("Créer l'utilisateur", "Create the user")) }
        }
    }
}

/// Creates a user; their generated password is shown once.
pub(super) async fn create_user(State(state): State<AppState>, posted: Posted) -> Response {
    let signed = &posted.signed;
    let lang = signed.lang;
    let display = posted.fields.get("display_name").trim();
    let new = NewUser {
        name: posted.fields.get("name").trim().to_owned(),
        display_name: (!display.is_empty()).then(|| display.to_owned()),
        roles: posted.fields.all("role").map(str::to_owned).collect(),
        password: None,
    };
    match state.hub.create_user(&signed.caller(), new).await {
        Ok((user, password)) => {
            let done = Done {
                message: Some(format!(
                    "{} {}",
                    lang.pick("Utilisateur créé :", "User created:"),
                    user.name
                )),
                secret: password,
            };
            render(&state, signed, None, done, StatusCode::OK).await
        }
        Err(e) => refused(&state, signed, e).await,
    }
}

/// Disables a user.
pub(super) async fn disable_user(State(state): State<AppState>, posted: Posted) -> Response {
    let signed = &posted.signed;
    let name = posted.fields.get("name").to_owned();
    match state.hub.disable_user(&signed.caller(), &name).await {
        Ok(user) => {
            let done = Done {
                message: Some(format!(
                    "{} {}",
                    signed
                        .lang
                        .pick("Utilisateur désactivé :", "User disabled:"),
                    user.name
                )),
                secret: None,
            };
            render(&state, signed, None, done, StatusCode::OK).await
        }
        Err(e) => refused(&state, signed, e).await,
    }
}

/// Creates a token; its secret is shown once.
pub(super) async fn create_token(State(state): State<AppState>, posted: Posted) -> Response {
    let signed = &posted.signed;
    let lang = signed.lang;
    let new = match super::account::new_token(&posted.fields, lang) {
        Ok(new) => new,
        Err(message) => {
            return render(
                &state,
                signed,
                Some(&message),
                Done::default(),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    match state.hub.create_token(&signed.caller(), new).await {
        Ok(issued) => {
            let done = Done {
                message: Some(format!(
                    "{} {}",
                    lang.pick("Jeton créé :", "Token created:"),
                    issued.token.name
                )),
                secret: Some(issued.secret),
            };
            render(&state, signed, None, done, StatusCode::OK).await
        }
        Err(e) => refused(&state, signed, e).await,
    }
}

/// Revokes a token.
pub(super) async fn revoke_token(State(state): State<AppState>, posted: Posted) -> Response {
    let signed = &posted.signed;
    let id = posted.fields.get("id").to_owned();
    match state.hub.revoke_token(&signed.caller(), &id).await {
        Ok(token) => {
            let done = Done {
                message: Some(format!(
                    "{} {}",
                    signed.lang.pick("Jeton révoqué :", "Token revoked:"),
                    token.name
                )),
                secret: None,
            };
            render(&state, signed, None, done, StatusCode::OK).await
        }
        Err(e) => refused(&state, signed, e).await,
    }
}

async fn refused(state: &AppState, signed: &Signed, error: bastide_hub::Error) -> Response {
    match refusal(signed.lang, error) {
        Ok(message) => {
            render(
                state,
                signed,
                Some(&message),
                Done::default(),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(page) => *page,
    }
}
