//! Frictionless Table Schemas, as the SNDS data dictionary writes them. Keys the
//! dictionary adds (`nomenclature`, `length`, `type_oracle`, `regle_gestion`, ...) are
//! read where they mean something to Bastide and otherwise left alone. A field marked
//! `"bastide:identifier": true` holds a direct identifier.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use regex::Regex;
use serde_json::{Map, Value as Json};

use crate::{Error, Result};

/// A table's schema.
#[derive(Debug, Clone)]
pub struct TableSchema {
    /// The table's name (`name`, else the file's stem).
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<ColumnSchema>,
    /// Columns of the primary key.
    pub primary_key: Vec<String>,
    /// References to other tables (nomenclatures among them).
    pub foreign_keys: Vec<ForeignKey>,
    /// Texts that mean "no value" (default: the empty string).
    pub missing_values: Vec<String>,
}

/// A reference from columns of this table to columns of another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    /// Columns here.
    pub fields: Vec<String>,
    /// The table referenced.
    pub resource: String,
    /// Its columns.
    pub reference_fields: Vec<String>,
}

/// What a column holds and how its text is read.
#[derive(Debug, Clone)]
pub enum ColumnKind {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// A decimal number (`.` separator).
    Number,
    /// `true`/`false` (and `1`/`0`).
    Boolean,
    /// A calendar date: ISO `YYYY-MM-DD`, or a strftime-style format with day, month
    /// and year.
    Date(Option<String>),
    /// Part of a date (`%m`, `%Y%m`, ...): kept as text, checked against the format.
    PartialDate(String, Regex),
    /// A year, `YYYY`.
    Year,
    /// A year and month, `YYYY-MM` (also read from `YYYYMM`).
    YearMonth,
    /// A date and time: ISO 8601, or a strftime-style format such as `%d%b%Y:%H:%M:%S`.
    DateTime(Option<String>),
}

/// One column and its rules.
#[derive(Debug, Clone)]
pub struct ColumnSchema {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub kind: ColumnKind,
    /// The description, for the catalogue.
    pub description: String,
    /// A value must be given.
    pub required: bool,
    /// Values are unique in the table.
    pub unique: bool,
    /// Shortest text, in characters.
    pub min_length: Option<usize>,
    /// Longest text, in characters.
    pub max_length: Option<usize>,
    /// Smallest number.
    pub minimum: Option<f64>,
    /// Largest number.
    pub maximum: Option<f64>,
    /// Most digits after the decimal point (the SNDS dictionary's `decimals`).
    pub decimals: Option<usize>,
    /// The only values allowed.
    pub allowed: Option<Vec<String>>,
    /// A regular expression the whole text must match.
    pub pattern: Option<Regex>,
    /// The nomenclature (reference table) its values come from, e.g. `IR_SEX_V`.
    pub nomenclature: Option<String>,
    /// A direct identifier, replaced by a pseudonym at ingestion.
    pub identifier: bool,
    /// The codes of a loaded nomenclature the values must be among: (its name, the
    /// codes as [`normalise_code`] writes them).
    pub codes: Option<(String, Arc<HashSet<String>>)>,
}

/// A code as compared with a nomenclature: trimmed, and whole numbers without their
/// leading zeros (a code column read as integers loses them).
pub fn normalise_code(text: &str) -> String {
    let text = text.trim();
    match text.parse::<i64>() {
        Ok(n) => n.to_string(),
        Err(_) => text.to_owned(),
    }
}

impl TableSchema {
    /// Reads a Table Schema from JSON; `file` names it in errors and, without a `name`
    /// key, gives the table its name.
    pub fn parse(file: &str, json: &[u8]) -> Result<Self> {
        let not_a_schema = |problem: String| Error::NotASchema {
            file: file.to_owned(),
            problem,
        };
        let root: Json = serde_json::from_slice(json)
            .map_err(|e| not_a_schema(format!("line {}, column {}: {e}", e.line(), e.column())))?;
        let root = root
            .as_object()
            .ok_or_else(|| not_a_schema("it is not a JSON object".into()))?;
        let fields = root
            .get("fields")
            .and_then(Json::as_array)
            .ok_or_else(|| not_a_schema("it has no `fields` list".into()))?;
        let columns = fields
            .iter()
            .enumerate()
            .map(|(i, field)| column(file, i, field))
            .collect::<Result<Vec<_>>>()?;
        let stem = std::path::Path::new(file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned());
        let name = root
            .get("name")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .or(stem)
            .unwrap_or_default();
        let schema = Self {
            name,
            primary_key: strings(root.get("primaryKey")),
            foreign_keys: root
                .get("foreignKeys")
                .and_then(Json::as_array)
                .map(|keys| keys.iter().filter_map(foreign_key).collect())
                .unwrap_or_default(),
            missing_values: root
                .get("missingValues")
                .map(|v| strings(Some(v)))
                .unwrap_or_else(|| vec![String::new()]),
            columns,
        };
        for key in &schema.primary_key {
            if schema.column(key).is_none() {
                return Err(not_a_schema(format!(
                    "primaryKey names `{key}`, which is not a field"
                )));
            }
        }
        Ok(schema)
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Marks columns as direct identifiers; an unknown name is an error naming it.
    pub fn mark_identifiers(&mut self, names: &[String]) -> Result<()> {
        for name in names {
            let column = self
                .columns
                .iter_mut()
                .find(|c| c.name == *name)
                .ok_or_else(|| Error::Field {
                    file: self.name.clone(),
                    field: name.clone(),
                    problem: "no such column to declare an identifier".into(),
                })?;
            column.identifier = true;
        }
        Ok(())
    }

    /// The Arrow schema rows are stored with. Identifier columns hold pseudonyms: text.
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| {
                Field::new(
                    &c.name,
                    if c.identifier {
                        DataType::Utf8
                    } else {
                        c.kind.arrow_type()
                    },
                    !c.required,
                )
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

impl ColumnKind {
    /// The Arrow type of stored values.
    pub fn arrow_type(&self) -> DataType {
        match self {
            Self::String | Self::PartialDate(..) | Self::YearMonth => DataType::Utf8,
            Self::Integer => DataType::Int64,
            Self::Number => DataType::Float64,
            Self::Boolean => DataType::Boolean,
            Self::Date(_) => DataType::Date32,
            Self::Year => DataType::Int32,
            Self::DateTime(_) => DataType::Timestamp(TimeUnit::Second, None),
        }
    }
}

/// The start of the names of columns Bastide's query plans add to a table's rows (the
/// person each row is about, its link key): no stored column may take one.
pub const RESERVED: &str = "__bastide";

fn column(file: &str, index: usize, field: &Json) -> Result<ColumnSchema> {
    let object = field.as_object().ok_or_else(|| Error::NotASchema {
        file: file.to_owned(),
        problem: format!("field {} is not an object", index + 1),
    })?;
    let name = object
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned();
    let bad = |problem: String| Error::Field {
        file: file.to_owned(),
        field: name.clone(),
        problem,
    };
    if name.is_empty() {
        return Err(Error::NotASchema {
            file: file.to_owned(),
            problem: format!("field {} has no name", index + 1),
        });
    }
    if name.to_ascii_lowercase().starts_with(RESERVED) {
        return Err(bad(format!(
            "names starting with `{RESERVED}` are Bastide's own (the columns its query plans add); rename the field"
        )));
    }
    let format = object
        .get("format")
        .and_then(Json::as_str)
        .filter(|f| !f.is_empty() && *f != "default" && *f != "any");
    let kind = match object
        .get("type")
        .and_then(Json::as_str)
        .unwrap_or("string")
    {
        "string" => ColumnKind::String,
        "integer" => ColumnKind::Integer,
        "number" => ColumnKind::Number,
        "boolean" => ColumnKind::Boolean,
        "date" => date_kind(format).map_err(bad)?,
        "year" => ColumnKind::Year,
        "yearmonth" => ColumnKind::YearMonth,
        "datetime" => ColumnKind::DateTime(format.map(str::to_owned)),
        other => {
            return Err(bad(format!(
                "type `{other}` is not supported; use string, integer, number, boolean, date, year, yearmonth or datetime"
            )));
        }
    };
    let empty = Map::new();
    let constraints = object
        .get("constraints")
        .and_then(Json::as_object)
        .unwrap_or(&empty);
    let numeric = matches!(kind, ColumnKind::Integer | ColumnKind::Number);
    let bound = |key: &str| -> Result<Option<f64>> {
        match constraints.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(_) if !numeric => Err(bad(format!(
                "`{key}` is supported on integer and number fields only"
            ))),
            Some(value) => value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                .map(Some)
                .ok_or_else(|| bad(format!("`{key}` is not a number"))),
        }
    };
    let size = |key: &str| {
        constraints
            .get(key)
            .and_then(Json::as_u64)
            .map(|n| n as usize)
    };
    let pattern = match constraints.get("pattern").and_then(Json::as_str) {
        Some(p) => Some(
            Regex::new(&format!("^(?:{p})$"))
                .map_err(|e| bad(format!("`pattern` is not a regular expression: {e}")))?,
        ),
        None => None,
    };
    let nomenclature = object
        .get("nomenclature")
        .and_then(Json::as_str)
        .map(|n| n.split(':').next().unwrap_or(n).trim().to_owned())
        .filter(|n| !n.is_empty() && n != "-");
    Ok(ColumnSchema {
        required: constraints
            .get("required")
            .and_then(Json::as_bool)
            .unwrap_or(false),
        unique: constraints
            .get("unique")
            .and_then(Json::as_bool)
            .unwrap_or(false),
        min_length: size("minLength"),
        max_length: size("maxLength"),
        minimum: bound("minimum")?,
        maximum: bound("maximum")?,
        decimals: size("decimals"),
        allowed: constraints.get("enum").map(|v| strings(Some(v))),
        pattern,
        codes: None,
        description: object
            .get("description")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned(),
        identifier: object
            .get("bastide:identifier")
            .and_then(Json::as_bool)
            .unwrap_or(false),
        nomenclature,
        kind,
        name,
    })
}

/// A date format with day, month and year makes a date; anything less, a partial date.
fn date_kind(format: Option<&str>) -> std::result::Result<ColumnKind, String> {
    let Some(format) = format else {
        return Ok(ColumnKind::Date(None));
    };
    let has = |codes: &[&str]| codes.iter().any(|c| format.contains(c));
    if has(&["%d"]) && has(&["%m", "%b"]) && has(&["%Y", "%y"]) {
        return Ok(ColumnKind::Date(Some(format.to_owned())));
    }
    let mut pattern = String::from("^");
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            pattern.push_str(&regex::escape(&c.to_string()));
            continue;
        }
        pattern.push_str(match chars.next() {
            Some('d') => "(?:0[1-9]|[12][0-9]|3[01])",
            Some('m') => "(?:0[1-9]|1[0-2])",
            Some('Y') => "[0-9]{4}",
            Some('y') => "[0-9]{2}",
            Some('b') => "[A-Za-z]{3}",
            Some(other) => {
                return Err(format!(
                    "date format code `%{other}` is not supported (use %d, %m, %b, %Y, %y)"
                ));
            }
            None => return Err("the date format ends with a lone `%`".into()),
        });
    }
    pattern.push('$');
    let regex = Regex::new(&pattern).map_err(|e| format!("date format `{format}`: {e}"))?;
    Ok(ColumnKind::PartialDate(format.to_owned(), regex))
}

fn strings(value: Option<&Json>) -> Vec<String> {
    match value {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(items)) => items
            .iter()
            .map(|item| match item {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn foreign_key(value: &Json) -> Option<ForeignKey> {
    let reference = value.get("reference")?;
    Some(ForeignKey {
        fields: strings(value.get("fields")),
        resource: reference.get("resource")?.as_str()?.to_owned(),
        reference_fields: strings(reference.get("fields")),
    })
}
