//! Feasibility counts in the browser, for anyone with an account and no permit: the
//! columns a steward opened on a dataset, criteria on them, and the number of persons
//! matching, with differential-privacy noise, rounded, and the privacy budget left
//! (`Hub::feasibility_count`, which spends and records it). Without a session, the page
//! says what the counts are and how to sign in.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use bastide_core::ids::DatasetName;
use bastide_hub::{CountRequest, Criterion, FeasibilityCount, FeasibilityTerms};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{Nav, alert, csrf, page};
use super::signed::{Fields, Posted, Signed, refusal};
use crate::api::AppState;

/// Criteria offered at once.
const CRITERIA: usize = 3;

/// The dataset chosen.
#[derive(Debug, Deserialize)]
pub(super) struct Chosen {
    dataset: Option<String>,
}

/// The page: the datasets, and the chosen one's open columns and the budget.
pub(super) async fn show(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(chosen): Query<Chosen>,
    signed: Result<Signed, Response>,
) -> Response {
    match signed {
        Ok(signed) => {
            render(
                &state,
                &signed,
                chosen.dataset.as_deref(),
                None,
                None,
                &Fields::default(),
            )
            .await
        }
        // With a session cookie, whatever stopped it (over, throttled) is said.
        Err(response) if crate::api::auth::session_cookie(&headers).is_some() => response,
        Err(_) => public(Lang::of(&headers)),
    }
}

/// Without a session: what the counts are, and signing in.
fn public(lang: Lang) -> Response {
    let content = html! {
        p.intro { (lang.pick(
            "Les comptages de faisabilité donnent, sans autorisation d'accès, un ordre de grandeur du nombre de personnes répondant à quelques critères, protégé par la confidentialité différentielle et décompté d'un budget par personne.",
            "Feasibility counts give, without a data permit, the order of magnitude of the number of persons meeting a few criteria, protected by differential privacy and spent from a per-person budget.",
        )) }
        p { a.button href="/sign-in?next=%2Ffeasibility" { (lang.pick("Se connecter pour compter", "Sign in to count")) } }
    };
    Html(
        page(
            lang,
            None,
            lang.pick("Faisabilité", "Feasibility"),
            Nav::Feasibility,
            "/feasibility",
            content,
        )
        .into_string(),
    )
    .into_response()
}

async fn render(
    state: &AppState,
    signed: &Signed,
    dataset: Option<&str>,
    counted: Option<&FeasibilityCount>,
    refused: Option<&str>,
    typed: &Fields,
) -> Response {
    let lang = signed.lang;
    let datasets: Vec<String> = match state.hub.catalogue().await {
        Ok(entries) => entries.into_iter().map(|d| d.name).collect(),
        Err(e) => return super::unavailable(lang, &e),
    };
    let chosen = dataset
        .filter(|d| datasets.iter().any(|n| n == d))
        .or(datasets.first().map(String::as_str))
        .map(str::to_owned);
    let terms = match chosen.as_deref().map(DatasetName::parse) {
        Some(Ok(name)) => state
            .hub
            .feasibility_terms(&signed.caller(), &name)
            .await
            .ok(),
        _ => None,
    };
    let content = html! {
        (alert(refused))
        form.row method="get" action="/feasibility" {
            label for="dataset" { (lang.pick("Jeu de données", "Dataset")) }
            select #dataset name="dataset" {
                @for d in &datasets { option value=(d) selected[Some(d) == chosen.as_ref()] { (d) } }
            }
            button.secondary type="submit" { (lang.pick("Choisir", "Choose")) }
        }
        @if let Some(count) = counted {
            div.notice.count role="status" {
                p.big { (lang.pick("Environ", "About")) " " strong { (count.count) } " " (lang.pick("personnes", "persons")) }
                p { (count.note) }
            }
        }
        @match &terms {
            Some(terms) => { (terms_markup(lang, signed, terms, typed)) },
            None => { p.empty { (lang.pick("Aucune colonne de ce jeu n'est ouverte aux comptages.", "No column of this dataset is open to counts.")) } },
        }
    };
    let status = if refused.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (
        status,
        Html(
            page(
                lang,
                Some(&signed.viewer),
                lang.pick("Faisabilité", "Feasibility"),
                Nav::Feasibility,
                "/feasibility",
                content,
            )
            .into_string(),
        ),
    )
        .into_response()
}

fn terms_markup(lang: Lang, signed: &Signed, terms: &FeasibilityTerms, typed: &Fields) -> Markup {
    let budget = &terms.budget;
    let columns: Vec<String> = terms
        .open
        .iter()
        .flat_map(|t| t.columns.iter().map(move |c| format!("{}.{c}", t.name)))
        .collect();
    html! {
        p.meta {
            (lang.pick("Budget de confidentialité", "Privacy budget")) " : ε "
            (format!("{:.2}", budget.left)) " / " (format!("{:.2}", budget.total)) " "
            (lang.pick("restant", "left")) " · " (budget.counts) " " (lang.pick("comptages faits", "counts made"))
            " · ε " (format!("{:.2}", terms.epsilon_per_count)) " " (lang.pick("par comptage, arrondi à", "per count, rounded to")) " " (terms.rounded_to)
        }
        @if columns.is_empty() {
            p.empty { (lang.pick("Aucune colonne ouverte aux comptages sur ce jeu.", "No column open to counts on this dataset.")) }
        } @else {
            form.count method="post" action="/feasibility" {
                (csrf(&signed.viewer.csrf))
                input type="hidden" name="dataset" value=(terms.dataset);
                @for i in 0..CRITERIA {
                    @let key = |p: &str| format!("c{i}.{p}");
                    fieldset.criterion {
                        legend { (lang.pick("Critère", "Criterion")) " " (i + 1) }
                        label for=(key("column")) { (lang.pick("colonne", "column")) }
                        select id=(key("column")) name=(key("column")) {
                            option value="" { "—" }
                            @for c in &columns { option value=(c) selected[typed.get(&key("column")) == c] { (c) } }
                        }
                        label for=(key("op")) { (lang.pick("opérateur", "operator")) }
                        select id=(key("op")) name=(key("op")) {
                            @for (op, text) in [("eq", lang.pick("égal à", "equals")), ("in", lang.pick("parmi (v1, v2, …)", "one of (v1, v2, …)")), ("between", lang.pick("entre (bas, haut)", "between (low, high)"))] {
                                option value=(op) selected[typed.get(&key("op")) == op] { (text) }
                            }
                        }
                        label for=(key("values")) { (lang.pick("valeurs", "values")) }
                        input id=(key("values")) type="text" name=(key("values")) value=(typed.get(&key("values")));
                    }
                }
                button type="submit" { (lang.pick("Compter (dépense du budget)", "Count (spends budget)")) }
            }
        }
    }
}

/// Counts the persons meeting the criteria typed.
pub(super) async fn count(State(state): State<AppState>, posted: Posted) -> Response {
    let signed = &posted.signed;
    let lang = signed.lang;
    let fields = &posted.fields;
    let dataset = fields.get("dataset").to_owned();
    let Ok(name) = DatasetName::parse(&dataset) else {
        let message = lang.pick("Choisissez un jeu de données.", "Choose a dataset.");
        return render(&state, signed, None, None, Some(message), fields).await;
    };
    let mut criteria = Vec::new();
    for i in 0..CRITERIA {
        let part = |p: &str| fields.get(&format!("c{i}.{p}")).trim().to_owned();
        let column = part("column");
        let Some((table, column)) = column.split_once('.') else {
            continue;
        };
        let values: Vec<serde_json::Value> = part("values")
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| match v {
                "true" => serde_json::Value::Bool(true),
                "false" => serde_json::Value::Bool(false),
                v => serde_json::Value::String(v.to_owned()),
            })
            .collect();
        let op = part("op");
        let mut criterion = Criterion {
            table: table.to_owned(),
            column: column.to_owned(),
            op: op.clone(),
            value: None,
            values: Vec::new(),
            low: None,
            high: None,
        };
        match (op.as_str(), values.as_slice()) {
            ("eq", [value]) => criterion.value = Some(value.clone()),
            ("between", [low, high]) => {
                criterion.low = Some(low.clone());
                criterion.high = Some(high.clone());
            }
            ("in", [_, ..]) => criterion.values = values,
            _ => {
                let message = format!(
                    "{} {}: {}",
                    lang.pick("Critère", "Criterion"),
                    i + 1,
                    lang.pick(
                        "« égal à » prend une valeur, « entre » deux, « parmi » au moins une.",
                        "“equals” takes one value, “between” two, “one of” at least one."
                    )
                );
                return render(&state, signed, Some(&dataset), None, Some(&message), fields).await;
            }
        }
        criteria.push(criterion);
    }
    match state
        .hub
        .feasibility_count(&signed.caller(), &name, CountRequest { criteria })
        .await
    {
        Ok(counted) => render(&state, signed, Some(&dataset), Some(&counted), None, fields).await,
        Err(e) => match refusal(lang, e) {
            Ok(message) => {
                render(&state, signed, Some(&dataset), None, Some(&message), fields).await
            }
            Err(page) => *page,
        },
    }
}
