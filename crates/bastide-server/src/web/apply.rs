//! Applying for access from the browser: the application form (title, purpose, legal
//! basis, organisation, dataset, tables, duration) of the API's `POST /projects`, sent
//! with the session's CSRF token, through the same use case (`Hub::apply`). A refused
//! application comes back with its reason and everything typed.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use bastide_access::{Application, RequestedTable};

use super::i18n::Lang;
use super::pages;
use super::session::redirect;
use super::signed::{Fields, Posted, Signed, refusal};
use crate::api::AppState;

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
    fn from_fields(fields: &Fields) -> Self {
        Typed {
            title: fields.get("title").to_owned(),
            purpose: fields.get("purpose").to_owned(),
            legal_basis: fields.get("legal_basis").to_owned(),
            organisation: fields.get("organisation").to_owned(),
            dataset: fields.get("dataset").to_owned(),
            tables: fields.all("table").map(str::to_owned).collect(),
            duration_days: fields.get("duration_days").to_owned(),
        }
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
            // Ticked as `dataset/table`: only the chosen dataset's count.
            tables: self
                .tables
                .iter()
                .filter_map(|ticked| {
                    let (dataset, table) = ticked.split_once('/')?;
                    (dataset == self.dataset).then_some(table)
                })
                .map(|name| RequestedTable {
                    name: name.to_owned(),
                    columns: Vec::new(),
                    rows: "all".into(),
                })
                .collect(),
            duration_days,
        })
    }
}

/// The application form, for a signed-in person.
pub(super) async fn form(State(state): State<AppState>, signed: Signed) -> Response {
    page(&state, &signed, &Typed::default(), None, StatusCode::OK).await
}

/// Files the application and goes to its project's page, or says what to fix.
pub(super) async fn submit(State(state): State<AppState>, posted: Posted) -> Response {
    let signed = &posted.signed;
    let typed = Typed::from_fields(&posted.fields);
    let application = match typed.application(signed.lang) {
        Ok(application) => application,
        Err(message) => {
            return page(
                &state,
                signed,
                &typed,
                Some(&message),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    match state.hub.apply(&signed.caller(), application).await {
        Ok(project) => redirect(format!("/projects/{}", project.id), []),
        Err(e) => match refusal(signed.lang, e) {
            Ok(message) => {
                page(
                    &state,
                    signed,
                    &typed,
                    Some(&message),
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            Err(page) => *page,
        },
    }
}

/// The form with `typed`, `refused`'s reason when there is one.
async fn page(
    state: &AppState,
    signed: &Signed,
    typed: &Typed,
    refused: Option<&str>,
    status: StatusCode,
) -> Response {
    match state.hub.catalogue().await {
        Ok(datasets) => (
            status,
            Html(
                pages::application(signed.lang, &signed.viewer, &datasets, typed, refused)
                    .into_string(),
            ),
        )
            .into_response(),
        Err(e) => super::unavailable(signed.lang, &e),
    }
}
