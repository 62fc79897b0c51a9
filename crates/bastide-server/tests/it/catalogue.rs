//! The public catalogue: readable without login, metadata only.

use std::sync::Arc;

use bastide_hub::OnError;
use bastide_ingest::CsvOptions;
use bastide_server::api::ErrorEnvelope;

use crate::TestHub;

const SCHEMA: &str = r#"{"name": "stays", "fields": [
  {"name": "nir", "type": "string", "description": "Identifiant du patient"},
  {"name": "dgn_pal", "type": "string", "description": "Diagnostic principal (CIM-10)", "nomenclature": "CIM10:CODE"},
  {"name": "age", "type": "integer", "description": "Age en années"},
  {"name": "entry", "type": "date", "format": "%d%m%Y", "description": "Date d'entrée"}
]}"#;

async fn filled() -> TestHub {
    let hub = TestHub::spawn().await;
    let schema = ("stays.json".to_owned(), SCHEMA.as_bytes().to_vec());
    hub.hub
        .create_dataset(
            &hub.hub.operator(),
            &bastide_core::ids::DatasetName::parse("pmsi").unwrap(),
            &[schema],
            &["nir".to_owned()],
        )
        .await
        .unwrap();
    let csv = hub.dir.path().join("stays.csv");
    std::fs::write(
        &csv,
        "nir,dgn_pal,age,entry\n1840775123456,E119,41,02012019\n2850275000001,I10,77,31122021\n",
    )
    .unwrap();
    let report = hub
        .hub
        .ingest(
            &hub.hub.operator(),
            &bastide_core::ids::DatasetName::parse("pmsi").unwrap(),
            &bastide_core::ids::TableName::parse("stays").unwrap(),
            &[csv],
            OnError::Reject,
            CsvOptions::default(),
            Arc::new(|_, _| {}),
        )
        .await
        .unwrap();
    assert!(report.committed);
    hub
}

#[tokio::test]
async fn the_catalogue_lists_datasets_tables_and_columns_without_login_and_without_data() {
    let hub = filled().await;
    let response = hub.get("/api/v1/catalogue/datasets").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body[0]["name"], "pmsi");
    assert_eq!(body[0]["tables"][0]["rows"], 2);
    assert_eq!(body[0]["tables"][0]["columns"][0]["identifier"], true);
    assert_eq!(body[0]["tables"][0]["columns"][1]["nomenclature"], "CIM10");
    let coverage = &body[0]["tables"][0]["coverage"];
    assert_eq!(
        (coverage["start"].as_str(), coverage["end"].as_str()),
        (Some("2019-01-01"), Some("2021-12-31")),
        "whole years: the first date itself is one person's"
    );
    for value in ["1840775123456", "E119", "I10"] {
        assert!(
            !text.contains(value),
            "the catalogue shows a value: {value}"
        );
    }
}

#[tokio::test]
async fn the_catalogue_finds_tables_by_a_word_of_their_descriptions() {
    let hub = filled().await;
    let found: serde_json::Value = hub
        .get("/api/v1/catalogue/search?q=diagnostic")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found[0]["tables"][0]["name"], "stays");
    let none: serde_json::Value = hub
        .get("/api/v1/catalogue/search?q=radiotherapy")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none, serde_json::json!([]));
    let one: serde_json::Value = hub
        .get("/api/v1/catalogue/datasets/pmsi")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["version"], 1);
    let missing = hub.get("/api/v1/catalogue/datasets/nothing").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<ErrorEnvelope>().await.unwrap().error.code,
        "not_found"
    );
}

#[tokio::test]
async fn the_catalogue_exports_as_healthdcat_ap_json_ld() {
    let hub = filled().await;
    let response = hub.get("/api/v1/catalogue/dcat").await;
    assert_eq!(response.headers()["content-type"], "application/ld+json");
    let document: serde_json::Value = response.json().await.unwrap();
    assert_eq!(document["@type"], "dcat:Catalog");
    assert_eq!(document["@context"]["dcat"], "http://www.w3.org/ns/dcat#");
    let dataset = &document["dcat:dataset"][0];
    assert_eq!(dataset["@type"], "dcat:Dataset");
    assert_eq!(dataset["healthdcatap:numberOfRecords"], 2);
    assert_eq!(dataset["healthdcatap:hasCodingSystem"][0], "CIM10");
    assert_eq!(dataset["dct:temporal"]["dcat:startDate"], "2019-01-01");
}

#[tokio::test]
async fn dummy_rows_of_a_table_follow_its_schema_without_login_and_hold_no_data() {
    let hub = filled().await;
    let catalogue: serde_json::Value = hub
        .get("/api/v1/catalogue/datasets/pmsi")
        .await
        .json()
        .await
        .unwrap();
    let table = catalogue["tables"][0]["name"].as_str().unwrap().to_owned();
    let columns: Vec<String> = catalogue["tables"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    let response = hub
        .get(&format!(
            "/api/v1/catalogue/datasets/pmsi/tables/{table}/dummy?rows=5"
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], columns.join(","));
    assert_eq!(lines.len(), 6, "a header and five rows: {text}");
    for value in ["1840775123456", "E119", "I10"] {
        assert!(!text.contains(value), "dummy rows show a value: {value}");
    }
    // At most a thousand rows, however many are asked for; an unknown table is not
    // found.
    let many = hub
        .get(&format!(
            "/api/v1/catalogue/datasets/pmsi/tables/{table}/dummy?rows=1000000"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(many.lines().count(), 1_001);
    assert_eq!(
        hub.get("/api/v1/catalogue/datasets/pmsi/tables/nothing/dummy")
            .await
            .status(),
        404
    );
}
