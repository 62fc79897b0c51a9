//! The auditor's pages: the audit log browsed with filters (actor, project, action,
//! days, from an event number), the signed head, verifying the whole log against its
//! signed heads, and the alerts raised. Reading and verifying go through the hub's use
//! cases, which check the auditor's role and are themselves recorded.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use bastide_audit::{Event, Outcome};
use bastide_hub::{EventQuery, Reading, Verification};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{Nav, alert, csrf, page};
use super::signed::{Posted, Signed, refusal};
use crate::api::AppState;

/// Events shown at once.
const PAGE: u64 = 100;
/// The latest events searched for alerts.
const ALERTS_WITHIN: u64 = 10_000;
/// Alerts shown, the newest first.
const ALERTS: usize = 20;

/// The browser's filters, as typed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Filters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    project: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    from: Option<u64>,
}

impl Filters {
    fn query(&self, lang: Lang, head: u64) -> Result<EventQuery, String> {
        let day = |text: &str, end: bool| -> Result<Option<String>, String> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let date = time::Date::parse(text, &format).map_err(|_| {
                lang.pick("Dates : AAAA-MM-JJ.", "Dates: YYYY-MM-DD.")
                    .to_owned()
            })?;
            let date = if end {
                date.next_day().unwrap_or(date)
            } else {
                date
            };
            Ok(Some(format!("{date}T00:00:00Z")))
        };
        let text = |t: &str| Some(t.trim().to_owned()).filter(|t| !t.is_empty());
        let filtered = [
            &self.actor,
            &self.project,
            &self.action,
            &self.since,
            &self.until,
        ]
        .iter()
        .any(|t| !t.trim().is_empty());
        // Unfiltered, the latest events; filtered, from the start (or the number asked).
        let from = self
            .from
            .or_else(|| (!filtered).then(|| head.saturating_sub(PAGE)));
        Ok(EventQuery {
            actor: text(&self.actor),
            project: text(&self.project),
            action: text(&self.action),
            since: day(&self.since, false)?,
            until: day(&self.until, true)?,
            from,
            limit: Some(PAGE as usize),
        })
    }
}

/// The audit log's page.
pub(super) async fn browse(
    State(state): State<AppState>,
    Query(filters): Query<Filters>,
    signed: Signed,
) -> Response {
    render(&state, &signed, &filters, None).await
}

/// Verifies the whole log and shows the result above the browser.
pub(super) async fn verify(State(state): State<AppState>, posted: Posted) -> Response {
    let signed = &posted.signed;
    match state.hub.verify_audit(&signed.caller()).await {
        Ok(verification) => render(&state, signed, &Filters::default(), Some(verification)).await,
        Err(e) => match refusal(signed.lang, e) {
            Ok(message) => refused(signed, &message),
            Err(page) => *page,
        },
    }
}

fn refused(signed: &Signed, message: &str) -> Response {
    let title = signed.lang.pick("Journal d'audit", "Audit log");
    super::signed::forbidden(signed, title, Nav::Audit, "/audit", message)
}

async fn render(
    state: &AppState,
    signed: &Signed,
    filters: &Filters,
    verification: Option<Verification>,
) -> Response {
    let lang = signed.lang;
    let caller = signed.caller();
    let head = state.hub.audit_head();
    let (events, refused) = match filters.query(lang, head.tree_size) {
        Ok(query) => match state
            .hub
            .audit_events(&caller, query, Reading::Browse)
            .await
        {
            Ok(events) => (events, None),
            Err(e) => match refusal(lang, e) {
                Ok(message) if !signed.viewer.roles.has(bastide_access::Role::Auditor) => {
                    return refused(signed, &message);
                }
                Ok(message) => (Vec::new(), Some(message)),
                Err(page) => return *page,
            },
        },
        Err(message) => (Vec::new(), Some(message)),
    };
    let alerts_query = EventQuery {
        action: Some("alert".into()),
        limit: None,
        from: Some(head.tree_size.saturating_sub(ALERTS_WITHIN)),
        actor: None,
        project: None,
        since: None,
        until: None,
    };
    let alerts = state
        .hub
        .audit_events(&caller, alerts_query, Reading::Browse)
        .await
        .map(|mut alerts| {
            alerts.reverse();
            alerts.truncate(ALERTS);
            alerts
        });
    let content = html! {
        section aria-labelledby="head" {
            h2 #head { (lang.pick("Tête signée", "Signed head")) }
            dl {
                dt { (lang.pick("Événements", "Events")) } dd { (head.tree_size) }
                dt { (lang.pick("Racine", "Root")) } dd { code.hash { (hex::encode(head.root)) } }
                dt { (lang.pick("Signée le", "Signed at")) } dd { (head.time) }
                dt { (lang.pick("Clé", "Key")) } dd { code { (head.key_id) } }
            }
            @if let Some(v) = &verification {
                @match (&v.problem, &v.report) {
                    (None, Some(report)) => {
                        div.notice role="status" { p {
                            (lang.pick("Journal intact : ", "Log intact: "))
                            (report.entries) " " (lang.pick("événements", "events")) ", "
                            (report.heads) " " (lang.pick("têtes signées", "signed heads")) ", "
                            (report.segments) " " (lang.pick("segments vérifiés.", "segments checked."))
                        } }
                    },
                    (problem, _) => {
                        div.error role="alert" { p { (lang.pick("Journal altéré : ", "Log tampered with: ")) (problem.clone().unwrap_or_default()) } }
                    },
                }
            }
            form.inline method="post" action="/audit/verify" {
                (csrf(&signed.viewer.csrf))
                button type="submit" { (lang.pick("Vérifier tout le journal", "Verify the whole log")) }
            }
        }
        section aria-labelledby="alerts" {
            h2 #alerts { (lang.pick("Alertes", "Alerts")) }
            p.hint { (lang.pick("Les plus récentes d'abord, parmi les 10 000 derniers événements.", "The newest first, among the last 10,000 events.")) }
            @match &alerts {
                Ok(alerts) if alerts.is_empty() => { p.empty { (lang.pick("Aucune alerte.", "No alert.")) } },
                Ok(alerts) => { (events_table(lang, alerts)) },
                Err(_) => { div.error role="alert" { p { (lang.pick("Les alertes n'ont pas pu être lues (voir le journal du hub).", "The alerts could not be read (see the hub's log).")) } } },
            }
        }
        section aria-labelledby="events" {
            h2 #events { (lang.pick("Événements", "Events")) }
            (filter_form(lang, filters))
            (alert(refused.as_deref()))
            @if events.is_empty() {
                p.empty { (lang.pick("Aucun événement ne correspond.", "No event matches.")) }
            } @else {
                (events_table(lang, &events))
                @if let Some(last) = events.last() {
                    @if events.len() as u64 == PAGE {
                        p { a href={ "/audit?" (next_page(filters, last.seq + 1)) } { (lang.pick("Événements suivants", "Next events")) } }
                    }
                }
            }
        }
    };
    Html(
        page(
            lang,
            Some(&signed.viewer),
            lang.pick("Journal d'audit", "Audit log"),
            Nav::Audit,
            "/audit",
            content,
        )
        .into_string(),
    )
    .into_response()
}

fn next_page(filters: &Filters, from: u64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("actor", &filters.actor),
        ("project", &filters.project),
        ("action", &filters.action),
        ("since", &filters.since),
        ("until", &filters.until),
    ] {
        if !value.is_empty() {
            query.append_pair(name, value);
        }
    }
    query.append_pair("from", &from.to_string());
    query.finish()
}

fn filter_form(lang: Lang, filters: &Filters) -> Markup {
    let field = |id: &str, label: &str, value: &str, kind: &str| {
        html! {
            div.field {
                label for=(id) { (label) }
                input id=(id) type=(kind) name=(id) value=(value);
            }
        }
    };
    html! {
        form.filters method="get" action="/audit" {
            (field("actor", lang.pick("Acteur (identifiant)", "Actor (id)"), &filters.actor, "text"))
            (field("project", lang.pick("Projet", "Project"), &filters.project, "text"))
            (field("action", lang.pick("Action (ex. query, auth.login)", "Action (e.g. query, auth.login)"), &filters.action, "text"))
            (field("since", lang.pick("Depuis le", "Since"), &filters.since, "date"))
            (field("until", lang.pick("Jusqu'au", "Until"), &filters.until, "date"))
            button type="submit" { (lang.pick("Filtrer", "Filter")) }
        }
    }
}

fn events_table(lang: Lang, events: &[Event]) -> Markup {
    html! {
        div.scroll tabindex="0" {
            table.events {
                caption.visually-hidden { (lang.pick("Événements", "Events")) }
                thead { tr {
                    th scope="col" { "#" }
                    th scope="col" { (lang.pick("Heure (UTC)", "Time (UTC)")) }
                    th scope="col" { (lang.pick("Acteur", "Actor")) }
                    th scope="col" { (lang.pick("Action", "Action")) }
                    th scope="col" { (lang.pick("Issue", "Outcome")) }
                    th scope="col" { (lang.pick("Projet", "Project")) }
                    th scope="col" { (lang.pick("Détails", "Details")) }
                } }
                tbody {
                    @for e in events {
                        tr {
                            td.num { (e.seq) }
                            td { (e.time.date()) " " (e.time.time().to_string().chars().take(8).collect::<String>()) }
                            td { (e.event.actor) " (" (e.event.role.as_str()) ")" }
                            td { code { (e.event.action) } }
                            td { (match e.event.outcome { Outcome::Success => lang.pick("réussi", "success"), Outcome::Denied => lang.pick("refusé", "denied"), Outcome::Failure => lang.pick("échec", "failure") }) }
                            td { @if let Some(p) = &e.event.project { (p) } }
                            td.details {
                                @if let Some(o) = &e.event.object { span.fact { (lang.pick("objet : ", "object: ")) code { (o) } } " " }
                                @for (k, v) in &e.event.details {
                                    span.fact { (k) " = " (detail(v)) } " "
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn detail(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 200 {
        let mut cut: String = text.chars().take(199).collect();
        cut.push('…');
        cut
    } else {
        text
    }
}
