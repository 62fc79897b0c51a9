//! The functions the catalogue session adds for clients: comments of columns, the
//! session's settings, definitions and sizes it has none of.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, SimpleScalarUDF,
    Volatility, create_udf,
};

/// `col_description(table oid, column number)`: the column's comment, or NULL.
pub(super) fn col_description(comments: HashMap<(i32, i32), String>) -> ScalarUDF {
    let comments = Arc::new(comments);
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        "col_description",
        Signature::any(2, Volatility::Stable),
        DataType::Utf8,
        Arc::new(move |args: &[ColumnarValue]| {
            let args = ColumnarValue::values_to_arrays(args)?;
            let oids = datafusion::arrow::compute::cast(&args[0], &DataType::Int32)?;
            let positions = datafusion::arrow::compute::cast(&args[1], &DataType::Int32)?;
            let (oids, positions) = (
                oids.as_primitive::<Int32Type>(),
                positions.as_primitive::<Int32Type>(),
            );
            let texts: StringArray = oids
                .iter()
                .zip(positions.iter())
                .map(|(o, n)| Some(comments.get(&(o?, n?))?.clone()))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(texts) as ArrayRef))
        }),
    ))
}

/// A function of any arguments whose value is NULL of one type: the definition or
/// comment of objects the workspace has none of (functions, views, indexes, triggers,
/// rules), the id of a type it does not hold.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct NullOf {
    name: String,
    signature: Signature,
    returns: DataType,
}

impl NullOf {
    pub(super) fn new(name: &str, returns: DataType) -> Self {
        Self {
            name: name.to_owned(),
            signature: Signature::variadic_any(Volatility::Immutable),
            returns,
        }
    }
}

impl ScalarUDFImpl for NullOf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> datafusion::error::Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from(&self.returns)?))
    }
}

/// The session settings clients read (`SHOW`, `current_setting`), in lower case, and
/// their values: fixed, the ones the endpoint speaks by (UTF-8, ISO dates, UTC,
/// read-only).
pub const SESSION_SETTINGS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("bytea_output", "hex"),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("default_transaction_isolation", "read committed"),
    ("default_transaction_read_only", "on"),
    ("extra_float_digits", "1"),
    ("integer_datetimes", "on"),
    ("intervalstyle", "postgres"),
    ("is_superuser", "off"),
    ("lc_collate", "C"),
    ("lc_ctype", "C"),
    ("max_identifier_length", "63"),
    ("search_path", "public"),
    ("server_encoding", "UTF8"),
    ("server_version", "16.6"),
    ("server_version_num", "160006"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("timezone", "UTC"),
    ("transaction_isolation", "read committed"),
    ("transaction_read_only", "on"),
];

/// `current_setting(name [, missing_ok])`: a setting of [`SESSION_SETTINGS`], NULL for
/// any other.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct CurrentSetting {
    signature: Signature,
}

impl CurrentSetting {
    pub(super) fn new() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let value = |name: &str| {
            let name = name.to_lowercase();
            SESSION_SETTINGS
                .iter()
                .find(|(setting, _)| *setting == name)
                .map(|(_, value)| (*value).to_owned())
        };
        match args.args.first() {
            Some(ColumnarValue::Scalar(name)) => {
                let name = name.cast_to(&DataType::Utf8)?;
                let ScalarValue::Utf8(name) = name else {
                    return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)));
                };
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8(
                    name.as_deref().and_then(value),
                )))
            }
            Some(ColumnarValue::Array(names)) => {
                let names = datafusion::arrow::compute::cast(names, &DataType::Utf8)?;
                let values: StringArray = names
                    .as_string::<i32>()
                    .iter()
                    .map(|name| value(name?))
                    .collect();
                Ok(ColumnarValue::Array(Arc::new(values)))
            }
            None => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
        }
    }
}

/// `name(oid)`: whether an object is on the search path; every object the catalogue
/// lists is.
pub(super) fn visible_udf(name: &str) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|_: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))),
    )
}

/// A function of no argument whose value is `text`.
pub(super) fn text_udf(name: &str, text: &'static str) -> ScalarUDF {
    create_udf(
        name,
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                text.to_owned(),
            ))))
        }),
    )
}
