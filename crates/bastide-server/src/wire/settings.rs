//! The session settings a client may read with `SHOW`: fixed values, the ones the
//! endpoint speaks by (UTF-8, ISO dates, UTC, read-only). `SET` of the client settings
//! drivers send is accepted without effect (see `handler`); no setting of the engine
//! is reachable either way.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use pgwire::error::PgWireResult;

use super::errors::client as client_error;

use bastide_query::catalogue::SESSION_SETTINGS as SETTINGS;

/// The answer to `SHOW name` (`name` in lower case): one row, one column named after
/// the setting; `SHOW ALL` lists them all.
pub(super) fn shown(name: &str) -> PgWireResult<RecordBatch> {
    let name = name.trim().trim_end_matches(';').trim();
    let name = match name {
        "time zone" => "timezone",
        "transaction isolation level" => "transaction_isolation",
        other => other,
    };
    if name == "all" {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("setting", DataType::Utf8, false),
        ]));
        return RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(SETTINGS.iter().map(|s| s.0))),
                Arc::new(StringArray::from_iter_values(SETTINGS.iter().map(|s| s.1))),
            ],
        )
        .map_err(super::errors::internal);
    }
    let Some((setting, value)) = SETTINGS.iter().find(|(setting, _)| *setting == name) else {
        return Err(client_error(
            "42704",
            "unrecognized configuration parameter: the workspace answers SHOW of the client settings (client_encoding, DateStyle, TimeZone, search_path, server_version, ... or SHOW ALL)".into(),
        ));
    };
    let schema = Arc::new(Schema::new(vec![Field::new(
        *setting,
        DataType::Utf8,
        false,
    )]));
    RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from_iter_values([*value]))],
    )
    .map_err(super::errors::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_answers_the_client_settings_and_refuses_the_others() {
        let batch = shown("datestyle").unwrap();
        assert_eq!(batch.schema().field(0).name(), "datestyle");
        assert!(shown("time zone").is_ok());
        assert!(shown("all").unwrap().num_rows() > 10);
        assert!(shown("datafusion.execution.batch_size").is_err());
    }
}
