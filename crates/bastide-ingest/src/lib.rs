//! Bastide's ingestion. A dataset's tables are described by Frictionless Table
//! Schemas, including the keys the SNDS data dictionary adds (`nomenclature`,
//! `length`, `type_oracle`, a `%d%m%Y` date format, ...). [`schema`] reads them into a
//! [`TableSchema`] that knows each column's Arrow type and rules; [`value`] checks and
//! converts one value. Errors name the column and the rule, never the value.

mod batch;
mod digest;
mod error;
mod parquet_input;
mod pipeline;
mod pseudonyms;
pub mod reader;
pub mod schema;
mod validate;
pub mod value;

pub use batch::{
    BatchSink, Collect, CsvOptions, Encoding, ErrorGroup, ReadError, TableRead, parse_delimiter,
};
pub use error::{Error, Result};
pub use parquet_input::read_parquet;
pub use reader::read_csv;
pub use schema::{ColumnKind, ColumnSchema, ForeignKey, TableSchema};
pub use value::{Rule, Value, ValueError};
