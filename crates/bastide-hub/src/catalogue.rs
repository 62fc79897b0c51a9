//! The public catalogue: what datasets the hub holds, their tables and columns with
//! descriptions and nomenclatures, and row counts. Metadata only, never data.
//! Quarantine tables are internal and not listed.

use bastide_ingest::TableSchema;
use serde::Serialize;
use utoipa::ToSchema;

use super::Hub;
use crate::Result;

/// One dataset in the catalogue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DatasetEntry {
    /// Its name.
    pub name: String,
    /// The latest committed version, if any.
    pub version: Option<i64>,
    /// When that version was committed (seconds since the Unix epoch).
    pub updated_at: Option<i64>,
    /// Its tables.
    pub tables: Vec<TableEntry>,
}

/// One table.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TableEntry {
    /// Its name.
    pub name: String,
    /// Rows in the latest version.
    pub rows: u64,
    /// The earliest and latest date in its date columns (`YYYY-MM-DD`).
    pub coverage: Option<Coverage>,
    /// Its columns.
    pub columns: Vec<ColumnEntry>,
}

/// A period of time, in whole years: the first and last dates of a table's date
/// columns are one person's values (the earliest birth, the latest death), which a
/// public page must not show.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Coverage {
    /// The first day of the first year.
    pub start: String,
    /// The last day of the last year.
    pub end: String,
}

impl Coverage {
    fn from_days((start, end): (i32, i32)) -> Option<Self> {
        let year = |d: i32| {
            time::Date::from_julian_day(2_440_588 + d)
                .ok()
                .map(|d| d.year())
        };
        Some(Self {
            start: format!("{:04}-01-01", year(start)?),
            end: format!("{:04}-12-31", year(end)?),
        })
    }
}

/// One column.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ColumnEntry {
    /// Its name.
    pub name: String,
    /// Its Table Schema type.
    pub r#type: String,
    /// What it holds.
    pub description: String,
    /// The nomenclature its values come from, if any.
    pub nomenclature: Option<String>,
    /// Whether it holds a direct identifier (stored as a pseudonym).
    pub identifier: bool,
}

impl Hub {
    /// Every dataset with its declared tables.
    pub async fn catalogue(&self) -> Result<Vec<DatasetEntry>> {
        let mut entries = Vec::new();
        for name in self.datasets.names().await? {
            let latest = self.datasets.latest(&name).await?;
            let mut tables = Vec::new();
            for record in self.meta.datasets().tables(&name).await? {
                let Ok(mut schema) =
                    TableSchema::parse(&record.name, record.schema_json.as_bytes())
                else {
                    continue;
                };
                let _ = schema.mark_identifiers(&record.identifiers);
                let stored = latest.as_ref().and_then(|(_, m)| m.table(&record.name));
                let rows = stored.map_or(0, |t| t.rows());
                let coverage = stored
                    .and_then(|t| t.coverage())
                    .and_then(Coverage::from_days);
                tables.push(TableEntry {
                    name: record.name.clone(),
                    rows,
                    coverage,
                    columns: schema
                        .columns
                        .iter()
                        .map(|c| ColumnEntry {
                            name: c.name.clone(),
                            r#type: type_name(&c.kind).to_owned(),
                            description: c.description.clone(),
                            nomenclature: c.nomenclature.clone(),
                            identifier: c.identifier,
                        })
                        .collect(),
                });
            }
            entries.push(DatasetEntry {
                version: latest.as_ref().map(|(r, _)| r.version),
                updated_at: latest.as_ref().map(|(r, _)| r.committed_at),
                name,
                tables,
            });
        }
        Ok(entries)
    }
}

fn type_name(kind: &bastide_ingest::ColumnKind) -> &'static str {
    use bastide_ingest::ColumnKind::*;
    match kind {
        String => "string",
        Integer => "integer",
        Number => "number",
        Boolean => "boolean",
        Date(_) | PartialDate(..) => "date",
        Year => "year",
        YearMonth => "yearmonth",
        DateTime(_) => "datetime",
    }
}

/// Most dummy rows one request gets.
pub const MOST_DUMMY_ROWS: usize = 1_000;

impl Hub {
    /// `rows` (at most [`MOST_DUMMY_ROWS`]) dummy rows of `dataset`'s table `table`
    /// as CSV with a header: values that follow the table's schema and describe no
    /// one (`bastide_synth::dummy`), the same for the same request; none when there is
    /// no such table. Made from the schema alone, never from data.
    pub async fn dummy_csv(
        &self,
        dataset: &str,
        table: &str,
        rows: usize,
    ) -> Result<Option<String>> {
        let Some(record) = self
            .meta
            .datasets()
            .tables(dataset)
            .await?
            .into_iter()
            .find(|t| t.name.eq_ignore_ascii_case(table))
        else {
            return Ok(None);
        };
        let Ok(schema) = TableSchema::parse(&record.name, record.schema_json.as_bytes()) else {
            return Ok(None);
        };
        let rows = bastide_synth::dummy::dummy_rows(&schema, rows.min(MOST_DUMMY_ROWS), 0);
        let mut writer = csv::Writer::from_writer(Vec::new());
        let written = writer
            .write_record(schema.columns.iter().map(|c| c.name.as_str()))
            .and_then(|()| rows.iter().try_for_each(|row| writer.write_record(row)));
        let bytes = written
            .map_err(|e| e.to_string())
            .and_then(|()| writer.into_inner().map_err(|e| e.to_string()))
            .map_err(|e| crate::Error::Internal(format!("writing dummy rows: {e}")))?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// Entries whose dataset, table or column name or description contains `word`
/// (case-insensitive), narrowed to the matching tables.
pub fn search(entries: Vec<DatasetEntry>, word: &str) -> Vec<DatasetEntry> {
    let word = word.to_lowercase();
    let hit = |text: &str| text.to_lowercase().contains(&word);
    entries
        .into_iter()
        .filter_map(|mut dataset| {
            if hit(&dataset.name) {
                return Some(dataset);
            }
            dataset.tables.retain(|t| {
                hit(&t.name)
                    || t.columns
                        .iter()
                        .any(|c| hit(&c.name) || hit(&c.description))
            });
            (!dataset.tables.is_empty()).then_some(dataset)
        })
        .collect()
}

/// The catalogue as HealthDCAT-AP (the EHDS profile of DCAT-AP) in JSON-LD.
pub fn dcat(hub_id: &str, entries: &[DatasetEntry]) -> serde_json::Value {
    let datasets: Vec<serde_json::Value> = entries
        .iter()
        .map(|d| {
            let rows: u64 = d.tables.iter().map(|t| t.rows).sum();
            serde_json::json!({
                "@id": format!("urn:bastide:{hub_id}:dataset:{}", d.name),
                "@type": "dcat:Dataset",
                "dct:identifier": d.name,
                "dct:title": d.name,
                "dct:description": format!("{} tables: {}", d.tables.len(), d.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")),
                "dct:modified": d.updated_at.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                    .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
                "dct:accessRights": {"@id": "http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC"},
                "healthdcatap:numberOfRecords": rows,
                "dct:temporal": temporal(d),
                "healthdcatap:hasCodingSystem": d.tables.iter().flat_map(|t| t.columns.iter().filter_map(|c| c.nomenclature.clone())).collect::<std::collections::BTreeSet<_>>(),
                "dcat:distribution": d.tables.iter().map(|t| serde_json::json!({
                    "@type": "dcat:Distribution",
                    "dct:title": t.name,
                    "dct:format": {"@id": "http://publications.europa.eu/resource/authority/file-type/PARQUET"},
                    "healthdcatap:numberOfRecords": t.rows,
                    "dcat:accessService": "available to approved projects in the hub's secure processing environment",
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "healthdcatap": "http://healthdataportal.eu/ns/health#",
        },
        "@id": format!("urn:bastide:{hub_id}:catalogue"),
        "@type": "dcat:Catalog",
        "dct:title": format!("Bastide hub {hub_id}"),
        "dcat:dataset": datasets,
    })
}

/// The dataset's period: from the earliest to the latest date of its tables.
fn temporal(dataset: &DatasetEntry) -> Option<serde_json::Value> {
    let periods = dataset.tables.iter().filter_map(|t| t.coverage.as_ref());
    let start = periods.clone().map(|c| c.start.as_str()).min()?;
    let end = periods.map(|c| c.end.as_str()).max()?;
    Some(
        serde_json::json!({ "@type": "dct:PeriodOfTime", "dcat:startDate": start, "dcat:endDate": end }),
    )
}
