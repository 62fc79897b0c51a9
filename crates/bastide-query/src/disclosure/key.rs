//! `person_key(text)`: a row's person as 8 bytes, the key every disclosure aggregate
//! counts persons by.
//!
//! A hub pseudonym is 32 characters of text; carried up a plan it costs a string
//! per row in every step (a join building its table, the aggregation finding each
//! linked row's person, each cell's set of persons), and a key shared by the rows of
//! millions of claims held as text does not fit a query's memory. The private plans
//! turn the pseudonym into its key where they first read it, so that everything
//! above carries, groups and compares 8 bytes. The key is a fixed hash of the hub
//! pseudonym's text: the same person has the same key in every table and every
//! query (persons carried from two tables of one answer agree), and two persons
//! whose keys collide count as one, which can only withhold more. It never leaves the
//! plan: the cells' verdicts and the sketches (keyed again with the project's seed)
//! are all that is computed from it.

use std::hash::BuildHasher;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, UInt64Array, UInt64Builder};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use datafusion::common::hash_utils::{QualityRandomState, create_hashes};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::pseudonym::map_strings;

/// The name the function shows in plans.
pub(crate) const PERSON_KEY: &str = "person_key";

/// Fixed, so that every partition, query and table agrees.
const KEYS: QualityRandomState = QualityRandomState::with_seed(0x6261_7374_6964_6531);

/// The data type of persons' keys.
pub(crate) const KEY_TYPE: DataType = DataType::UInt64;

/// `person_key(pseudonym)` as an expression.
pub(crate) fn person_key(pseudonym: Expr) -> Expr {
    ScalarUDF::new_from_impl(PersonKey {
        signature: Signature::string(1, Volatility::Immutable),
    })
    .call(vec![pseudonym])
}

/// The key of one pseudonym.
pub(crate) fn key_of(pseudonym: &str) -> u64 {
    KEYS.hash_one(pseudonym.as_bytes())
}

/// `link_key(a, b, …)`: the values of a row's link columns (its claim's nine keys) as
/// 8 bytes, NULL when one is NULL (an equality never matches it). The same values of
/// the same types give the same key in every table: `rows.link_key = target.link_key`
/// joins what the link's columns join, in memory of 8 bytes a row, and finding each
/// key's person groups 8 bytes instead of the nine columns. Two different keys of the
/// target colliding make their rows a record of no one (their persons differ) or stay
/// right (the same person): counting fewer persons, which can only withhold more.
pub(crate) fn link_key(values: Vec<Expr>) -> Expr {
    ScalarUDF::new_from_impl(LinkKey {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
    .call(values)
}

/// Fixed, and apart from persons' keys.
const LINKS: QualityRandomState = QualityRandomState::with_seed(0x6c69_6e6b_206b_6579);

#[derive(Debug, PartialEq, Eq, Hash)]
struct LinkKey {
    signature: Signature,
}

impl ScalarUDFImpl for LinkKey {
    fn name(&self) -> &str {
        "link_key"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(KEY_TYPE)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<DfResult<Vec<_>>>()?;
        let mut hashes = vec![0u64; rows];
        create_hashes(&arrays, &LINKS, &mut hashes)?;
        let nulls = arrays.iter().fold(None, |all, a| {
            NullBuffer::union(all.as_ref(), a.logical_nulls().as_ref())
        });
        Ok(ColumnarValue::Array(Arc::new(UInt64Array::new(
            hashes.into(),
            nulls,
        ))))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PersonKey {
    signature: Signature,
}

impl ScalarUDFImpl for PersonKey {
    fn name(&self) -> &str {
        PERSON_KEY
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(KEY_TYPE)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        map_strings(&args, |values| {
            let mut keys = UInt64Builder::with_capacity(rows);
            for value in values {
                keys.append_option(value.map(key_of));
            }
            Arc::new(keys.finish()) as ArrayRef
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int64Array, StringArray, StringViewArray};
    use datafusion::arrow::datatypes::{Field, UInt64Type};

    fn keys(array: ArrayRef) -> Vec<Option<u64>> {
        let f = PersonKey {
            signature: Signature::string(1, Volatility::Immutable),
        };
        let rows = array.len();
        let out = f
            .invoke_with_args(ScalarFunctionArgs {
                args: vec![ColumnarValue::Array(array.clone())],
                arg_fields: vec![Arc::new(Field::new("p", array.data_type().clone(), true))],
                number_rows: rows,
                return_field: Arc::new(Field::new("k", KEY_TYPE, true)),
                config_options: Arc::default(),
            })
            .expect("keys")
            .into_array(rows)
            .expect("an array");
        out.as_primitive::<UInt64Type>().iter().collect()
    }

    fn link_keys(columns: Vec<ArrayRef>) -> Vec<Option<u64>> {
        let f = LinkKey {
            signature: Signature::variadic_any(Volatility::Immutable),
        };
        let rows = columns[0].len();
        let out = f
            .invoke_with_args(ScalarFunctionArgs {
                arg_fields: columns
                    .iter()
                    .map(|c| Arc::new(Field::new("c", c.data_type().clone(), true)))
                    .collect(),
                args: columns.into_iter().map(ColumnarValue::Array).collect(),
                number_rows: rows,
                return_field: Arc::new(Field::new("k", KEY_TYPE, true)),
                config_options: Arc::default(),
            })
            .expect("keys")
            .into_array(rows)
            .expect("an array");
        out.as_primitive::<UInt64Type>().iter().collect()
    }

    #[test]
    fn equal_link_values_give_equal_keys_and_a_missing_value_gives_none() {
        let here = link_keys(vec![
            Arc::new(Int64Array::from(vec![Some(1), Some(2), None, Some(1)])),
            Arc::new(StringArray::from(vec!["a", "b", "c", "b"])),
        ]);
        let there = link_keys(vec![
            Arc::new(Int64Array::from(vec![Some(2), Some(1)])),
            Arc::new(StringArray::from(vec!["b", "a"])),
        ]);
        assert_eq!(here[0], there[1]);
        assert_eq!(here[1], there[0]);
        assert_eq!(here[2], None, "NULL never joins");
        assert_ne!(here[3], here[0]);
        assert_ne!(here[3], here[1]);
    }

    #[test]
    fn a_pseudonym_has_the_same_key_whatever_its_text_type_and_a_missing_one_has_none() {
        let values = [Some("0123456789abcdef0123456789abcdef"), None, Some("ff")];
        let plain = keys(Arc::new(StringArray::from(values.to_vec())));
        let view = keys(Arc::new(StringViewArray::from(values.to_vec())));
        assert_eq!(plain, view);
        assert_eq!(plain[0], Some(key_of(values[0].unwrap())));
        assert_eq!(plain[1], None);
        assert_ne!(plain[0], plain[2]);
    }
}
