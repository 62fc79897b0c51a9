//! Manifests: the open-format description of one dataset version. A version is its
//! manifest (every table, its columns, its files with sizes, row counts, SHA-256 and
//! key ids); data files are immutable and shared between versions.

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use crate::{Error, Result};

const FORMAT: &str = "bastide-manifest/1";

/// One dataset version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub format: String,
    /// The dataset.
    pub dataset: String,
    /// The version, from 1.
    pub version: i64,
    /// Its tables.
    pub tables: Vec<TableManifest>,
}

/// One table of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableManifest {
    /// The table's name.
    pub name: String,
    /// Its columns.
    pub columns: Vec<Column>,
    /// SHA-256 of the columns, hex: equal schemas have equal hashes.
    pub schema_hash: String,
    /// Columns holding direct identifiers, each encrypted under a key of its own.
    pub identifiers: Vec<String>,
    /// Its files, oldest first.
    pub files: Vec<FileEntry>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Arrow type, as Arrow writes it (`Utf8`, `Int64`, `Date32`, ...).
    pub data_type: String,
    /// Whether nulls are allowed.
    pub nullable: bool,
}

/// One immutable data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path below the storage root.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Rows.
    pub rows: u64,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// The version that added it: its keys belong to that version's scope.
    pub added_in: i64,
    /// Ids of its data keys (footer first).
    pub key_ids: Vec<String>,
    /// The earliest and latest date in its date columns (days since 1970-01-01), for
    /// the catalogue's time coverage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<(i32, i32)>,
}

impl Manifest {
    /// An empty first version.
    pub fn new(dataset: &str) -> Self {
        Self {
            format: FORMAT.into(),
            dataset: dataset.into(),
            version: 0,
            tables: Vec::new(),
        }
    }

    /// Parses a manifest, checking its format.
    pub fn parse(path: &str, bytes: &[u8]) -> Result<Self> {
        let manifest: Self = serde_json::from_slice(bytes).map_err(|e| Error::Manifest {
            path: path.to_owned(),
            problem: format!("not a manifest (line {}, column {})", e.line(), e.column()),
        })?;
        if manifest.format != FORMAT {
            return Err(Error::Manifest {
                path: path.to_owned(),
                problem: format!("format `{}` is not {FORMAT}", manifest.format),
            });
        }
        Ok(manifest)
    }

    /// The manifest as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("manifests serialise");
        bytes.push(b'\n');
        bytes
    }

    /// A table by name.
    pub fn table(&self, name: &str) -> Option<&TableManifest> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Every object the version references (its data files).
    pub fn objects(&self) -> impl Iterator<Item = &str> {
        self.tables
            .iter()
            .flat_map(|t| t.files.iter().map(|f| f.path.as_str()))
    }
}

impl TableManifest {
    /// The Arrow schema.
    pub fn schema(&self) -> Result<SchemaRef> {
        let fields = self
            .columns
            .iter()
            .map(|c| {
                let data_type: DataType = c.data_type.parse().map_err(|_| Error::Manifest {
                    path: self.name.clone(),
                    problem: format!("column {} has an unknown type `{}`", c.name, c.data_type),
                })?;
                Ok(Field::new(&c.name, data_type, c.nullable))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Schema::new(fields)))
    }

    /// The earliest and latest date over all its files (days since 1970-01-01).
    pub fn coverage(&self) -> Option<(i32, i32)> {
        self.files
            .iter()
            .filter_map(|f| f.coverage)
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
    }

    /// Rows in all its files.
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }
}

/// The columns of `schema`, as a manifest lists them, and their hash.
pub fn columns(schema: &Schema) -> (Vec<Column>, String) {
    let columns: Vec<Column> = schema
        .fields()
        .iter()
        .map(|f| Column {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
            nullable: f.is_nullable(),
        })
        .collect();
    let hash = hex(&Sha256::digest(
        serde_json::to_vec(&columns).expect("columns serialise"),
    ));
    (columns, hash)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_survives_the_manifest() {
        let schema = Schema::new(vec![
            Field::new("nir", DataType::Utf8, false),
            Field::new("day", DataType::Date32, true),
            Field::new("cost", DataType::Decimal128(12, 2), true),
            Field::new(
                "at",
                DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Second, None),
                true,
            ),
        ]);
        let (columns, hash) = columns(&schema);
        let table = TableManifest {
            name: "t".into(),
            columns,
            schema_hash: hash,
            identifiers: vec![],
            files: vec![],
        };
        assert_eq!(*table.schema().unwrap(), schema);
    }

    #[test]
    fn a_manifest_of_another_format_is_refused() {
        let err = Manifest::parse(
            "m.json",
            br#"{"format":"other","dataset":"d","version":1,"tables":[]}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("is not bastide-manifest/1"),
            "{err}"
        );
        let err = Manifest::parse("m.json", b"{").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
