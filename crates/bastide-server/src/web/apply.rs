//! Applying for access from the browser: the application form (title, purpose, legal
//! basis, organisation, dataset, tables, duration) of the API's `POST /projects`, sent
//! with the session's CSRF token, through the same use case (`Hub::apply`). A refused
//! application comes back with its reason and everything typed.

use std::collections::BTreeSet;

use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use bastide_access::{Application, RequestedTable};

use super::i18n::Lang;
use super::pages;
use super::session::{CSRF_COOKIE, cookie, redirect};
use crate::api::auth::Credential;
use crate::api::client::ClientAddr;
use crate::api::{ApiError, AppState};

/// What the form holds, as typed.
#[derive(Debug, Default, Clone)]
pub(super) struct Typed {
    pub title: String,
    pub purpose: String,
    pub legal_basis: String,
    pub organisation: String,
    pub dataset: String,
    pub tables: BTreeSet<String>,
    pub duration_days: String,
}

impl Typed {
    /// The form's fields (`table` once per table ticked).
    fn from_pairs(pairs: &[(String, String)]) -> (Self, String) {
        let mut typed = Typed::default();
        let mut csrf = String::new();
        for (name, value) in pairs {
            match name.as_str() {
                "title" => typed.title = value.clone(),
                "purpose" => typed.purpose = value.clone(),
                "legal_basis" => typed.legal_basis = value.clone(),
                "organisation" => typed.organisation = value.clone(),
                "dataset" => typed.dataset = value.clone(),
                "table" => {
                    typed.tables.insert(value.clone());
                }
                "duration_days" => typed.duration_days = value.clone(),
                "csrf" => csrf = value.clone(),
                _ => {}
            }
        }
        (typed, csrf)
    }

    /// The application, or which field to fix.
    fn application(&self, lang: Lang) -> Result<Application, String> {
        let duration_days = self.duration_days.trim().parse::<u32>().map_err(|_| {
            match lang {
                Lang::Fr => "Durée : un nombre entier de jours, par exemple 365.",
                Lang::En => "Duration: a whole number of days, for example 365.",
            }
            .to_owned()
        })?;
        Ok(Application {
            title: self.title.trim().to_owned(),
            purpose: self.purpose.trim().to_owned(),
            legal_basis: self.legal_basis.trim().to_owned(),
            organisation: self.organisation.trim().to_owned(),
            dataset: self.dataset.clone(),
            tables: self
                .tables
                .iter()
                .map(|name| RequestedTable {
                    name: name.clone(),
                    columns: Vec::new(),
                    rows: "all".into(),
                })
                .collect(),
            duration_days,
        })
    }
}

/// The application form, for a signed-in person.
pub(super) async fn form(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Response {
    let lang = Lang::of(request.headers());
    let (mut parts, _) = request.into_parts();
    if Credential::from_request_parts(&mut parts, &state)
        .await
        .is_err()
    {
        return redirect("/sign-in", super::session::cleared());
    }
    let csrf = cookie(&parts.headers, CSRF_COOKIE).unwrap_or_default();
    page(&state, lang, &Typed::default(), &csrf, None, StatusCode::OK).await
}

/// Files the application and goes to the person's projects, or says what to fix.
pub(super) async fn submit(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let lang = Lang::of(&headers);
    let (typed, csrf) = Typed::from_pairs(&pairs);
    let credential = match Credential::from_form(&state, &headers, client, &csrf).await {
        Ok(credential) => credential,
        Err(ApiError::Client {
            status, message, ..
        }) if status == StatusCode::FORBIDDEN => {
            let csrf = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
            return page(&state, lang, &typed, &csrf, Some(&message), status).await;
        }
        Err(_) => return redirect("/sign-in", []),
    };
    let refused = |message: String| {
        let state = state.clone();
        let typed = typed.clone();
        let csrf = csrf.clone();
        async move {
            page(
                &state,
                lang,
                &typed,
                &csrf,
                Some(&message),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    let application = match typed.application(lang) {
        Ok(application) => application,
        Err(message) => return refused(message).await,
    };
    match state.hub.apply(&credential.hub(), application).await {
        Ok(_) => redirect("/projects", []),
        Err(e) => match crate::api::routes::identity::hub(e) {
            ApiError::Client { message, .. } => refused(message).await,
            ApiError::Internal(cause) => {
                super::unavailable(lang, &bastide_hub::Error::Internal(cause))
            }
        },
    }
}

/// The form with `typed`, `refused`'s reason when there is one.
async fn page(
    state: &AppState,
    lang: Lang,
    typed: &Typed,
    csrf: &str,
    refused: Option<&str>,
    status: StatusCode,
) -> Response {
    match state.hub.catalogue().await {
        Ok(datasets) => (
            status,
            Html(pages::application(lang, &datasets, typed, csrf, refused).into_string()),
        )
            .into_response(),
        Err(e) => super::unavailable(lang, &e),
    }
}
