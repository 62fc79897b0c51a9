//! Feasibility counts over HTTP: a steward opens columns, anyone signed in counts
//! persons on them with noise, each count charged to a privacy budget that runs out;
//! identifiers, closed columns and opted-out persons stay out.

use bastide_audit::Outcome;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::releases::{As, token};
use super::*;

const COUNTS: &str = "datasets/snds/feasibility/counts";

fn women() -> Value {
    json!({ "criteria": [{ "table": "people", "column": "BEN_SEX_COD", "op": "eq", "value": 2 }] })
}

async fn opened(world: &World) {
    let stella = As {
        world,
        token: token(world, "stella", None).await,
    };
    let tables = json!({ "tables": [
        { "name": "people", "columns": ["BEN_SEX_COD", "BEN_NAI_ANN"] },
        { "name": "stays", "columns": ["DGN_PAL"] },
    ]});
    let open = stella
        .ok(Method::PUT, "datasets/snds/feasibility", Some(tables))
        .await;
    assert_eq!(open[0]["name"], "people", "{open}");
}

#[tokio::test]
async fn counts_on_open_columns_are_near_the_truth_without_opted_out_persons() {
    // Noise of scale 0.1: a count is off by one once in ten thousand.
    let world = World::with(|s| {
        s.feasibility.epsilon_per_count = 10.0;
        s.feasibility.budget_per_dataset = 100.0;
        s.feasibility.round_to = 1;
    })
    .await;
    user(world.hub(), "otto", "researcher").await;
    let otto = As {
        world: &world,
        token: token(&world, "otto", None).await,
    };
    // Nothing open yet: refused, and what may be opened is a steward's choice.
    otto.refused(Method::POST, COUNTS, Some(women()), StatusCode::FORBIDDEN)
        .await;
    let tables = json!({ "tables": [{ "name": "people", "columns": ["BEN_SEX_COD"] }] });
    otto.refused(
        Method::PUT,
        "datasets/snds/feasibility",
        Some(tables),
        StatusCode::FORBIDDEN,
    )
    .await;
    let stella = As {
        world: &world,
        token: token(&world, "stella", None).await,
    };
    let identifier = json!({ "tables": [{ "name": "people", "columns": ["BEN_NIR_PSA"] }] });
    stella
        .refused(
            Method::PUT,
            "datasets/snds/feasibility",
            Some(identifier),
            StatusCode::BAD_REQUEST,
        )
        .await;
    opened(&world).await;

    let near = |value: &Value, truth: i64| {
        let got = value["count"].as_i64().unwrap();
        assert!((got - truth).abs() <= 1, "{got} for {truth}: {value}");
    };
    // 20 people, every other one a woman; the men (even) have stays for I10.
    near(&otto.ok(Method::POST, COUNTS, Some(women())).await, 10);
    let born = json!({ "criteria": [
        { "table": "people", "column": "BEN_NAI_ANN", "op": "between", "low": 1930, "high": 1960 },
        { "table": "people", "column": "BEN_SEX_COD", "op": "in", "values": [1, 2] },
    ]});
    near(&otto.ok(Method::POST, COUNTS, Some(born)).await, 11);
    let men_with_stays = json!({ "criteria": [
        { "table": "people", "column": "BEN_SEX_COD", "op": "eq", "value": 1 },
        { "table": "stays", "column": "DGN_PAL", "op": "eq", "value": "I10" },
    ]});
    near(
        &otto.ok(Method::POST, COUNTS, Some(men_with_stays)).await,
        10,
    );
    // An objection removes the person from counts too.
    world.opt_out(1).await;
    near(&otto.ok(Method::POST, COUNTS, Some(women())).await, 9);

    for bad in [
        json!({ "criteria": [{ "table": "people", "column": "BEN_NIR_PSA", "op": "eq", "value": "x" }] }),
        json!({ "criteria": [{ "table": "people", "column": "BEN_RES_DPT", "op": "eq", "value": "01" }] }),
        json!({ "criteria": [{ "table": "people", "column": "BEN_SEX_COD", "op": "eq", "value": "two" }] }),
        json!({ "criteria": [] }),
    ] {
        otto.refused(Method::POST, COUNTS, Some(bad), StatusCode::BAD_REQUEST)
            .await;
    }
    let terms = otto
        .ok(Method::GET, "datasets/snds/feasibility", None)
        .await;
    assert_eq!(terms["budget"]["counts"], 4, "{terms}");
    assert_eq!(terms["open"][1]["columns"], json!(["DGN_PAL"]), "{terms}");
}

#[tokio::test]
async fn each_count_spends_budget_until_none_is_left_and_shows_rounded_noise() {
    let world = World::with(|s| {
        s.feasibility.epsilon_per_count = 0.4;
        s.feasibility.budget_per_dataset = 1.0;
        s.feasibility.round_to = 10;
    })
    .await;
    opened(&world).await;
    let rita = As {
        world: &world,
        token: token(&world, "rita", None).await,
    };
    for spent in [0.4, 0.8] {
        let count = rita.ok(Method::POST, COUNTS, Some(women())).await;
        assert_eq!(count["count"].as_u64().unwrap() % 10, 0, "{count}");
        assert!(
            (count["budget"]["spent"].as_f64().unwrap() - spent).abs() < 1e-9,
            "{count}"
        );
        assert!(count["note"].as_str().unwrap().contains("noise"), "{count}");
    }
    let spent = rita
        .refused(Method::POST, COUNTS, Some(women()), StatusCode::FORBIDDEN)
        .await;
    assert!(spent.contains("budget"), "{spent}");
    // Budgets are per user: another's is whole.
    user(world.hub(), "otto", "researcher").await;
    let otto = As {
        world: &world,
        token: token(&world, "otto", None).await,
    };
    otto.ok(Method::POST, COUNTS, Some(women())).await;
    let log = logged(&world, "feasibility", None);
    assert!(
        log.contains(&("feasibility.opened".into(), Outcome::Success)),
        "{log:?}"
    );
    assert_eq!(
        log.iter()
            .filter(|(a, o)| a == "feasibility.count" && *o == Outcome::Success)
            .count(),
        3,
        "{log:?}"
    );
    assert!(
        log.contains(&("feasibility.count".into(), Outcome::Denied)),
        "{log:?}"
    );
}
