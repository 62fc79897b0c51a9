//! `person_key(text)`: a row's person as 8 bytes, the key every disclosure aggregate
//! counts persons by.
//!
//! A hub pseudonym is 32 characters of text; carried up a plan it costs a string
//! per row in every step (a join building its table, the aggregation finding each
//! linked row's person, each cell's set of persons), and a key shared by the rows of
//! millions of claims held as text does not fit a query's memory. The private plans
//! turn the pseudonym into its key where they first read it, so that everything
//! above carries, groups and compares 8 bytes. The key is a hash of the hub
//! pseudonym's text seeded with the project's secret ([`super::seed`]): the same
//! person has the same key in every table and every query of the project (persons
//! carried from two tables of one answer agree), and two persons whose keys collide
//! count as one, which can only withhold more. It is, bit for bit, the hash the
//! project's sketches of published groups took of the pseudonym before keys existed
//! (text read as `Utf8View`, DataFusion's hash with the project's seed), so the
//! groups a project saw then are still compared with its new answers. It never
//! leaves the plan.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, UInt64Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use datafusion::common::hash_utils::{QualityRandomState, create_hashes};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// A map from persons' keys: already hashes, so the map does not hash them again
/// (seeded with the project's secret, they cannot be chosen to collide).
pub(crate) type KeyMap<V> = std::collections::HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// The identity as a hasher, for keys that are hashes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The name the function shows in plans.
const PERSON_KEY: &str = "person_key";

/// The data type of persons' keys.
pub(crate) const KEY_TYPE: DataType = DataType::UInt64;

/// `person_key` for the project whose persons' keys are seeded with `seed`.
pub(crate) fn person_keys(seed: u64) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(PersonKey {
        seed,
        signature: Signature::string(1, Volatility::Immutable),
    }))
}

/// The keys of `pseudonyms` (text of any layout), seeded with `seed`.
fn keys_of(pseudonyms: &ArrayRef, seed: u64) -> DfResult<ArrayRef> {
    // Read as tables are (`Utf8View`), whatever layout reached here: a layout hashes
    // its own way, and one person must have one key.
    let views = match pseudonyms.data_type() {
        DataType::Utf8View => pseudonyms.clone(),
        _ => cast(pseudonyms, &DataType::Utf8View)?,
    };
    let mut hashes = vec![0u64; views.len()];
    create_hashes([&views], &QualityRandomState::with_seed(seed), &mut hashes)?;
    Ok(Arc::new(UInt64Array::new(
        hashes.into(),
        views.logical_nulls(),
    )))
}

/// `link_key(a, b, …)`: the values of a row's link columns (its claim's nine keys) as
/// 8 bytes, NULL when one is NULL (an equality never matches it). The same values of
/// the same types give the same key in every table: `rows.link_key = target.link_key`
/// joins what the link's columns join, in memory of 8 bytes a row, and finding each
/// key's person groups 8 bytes instead of the nine columns. Two different keys of the
/// target that collide (about n² / 2⁶⁵ pairs among n keys: none expected below
/// billions of rows) make their rows records of no one when their persons differ; a
/// row whose key reaches no row of the target could, colliding, be given a person.
/// Neither can be chosen by a researcher; a 128-bit key would make both vanishingly
/// rare at any scale.
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
    seed: u64,
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
        let [pseudonyms] = args.args.as_slice() else {
            return datafusion::common::exec_err!("person_key takes one argument");
        };
        match pseudonyms {
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(keys_of(a, self.seed)?)),
            ColumnarValue::Scalar(s) => {
                let keys = keys_of(&s.to_array_of_size(1)?, self.seed)?;
                Ok(ColumnarValue::Scalar(
                    datafusion::common::ScalarValue::try_from_array(&keys, 0)?,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int64Array, StringArray, StringViewArray};
    use datafusion::arrow::datatypes::{Field, UInt64Type};

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
    fn a_person_s_key_is_the_hash_sketches_took_of_their_pseudonym_whatever_its_layout() {
        let values = vec![Some("0123456789abcdef0123456789abcdef"), None, Some("ff")];
        let view: ArrayRef = Arc::new(StringViewArray::from(values.clone()));
        let plain: ArrayRef = Arc::new(StringArray::from(values));
        let keys = keys_of(&view, 42).unwrap();
        assert_eq!(&keys, &keys_of(&plain, 42).unwrap());
        // What a sketch of a published group hashed before keys existed.
        let mut before = vec![0u64; 3];
        create_hashes([&view], &QualityRandomState::with_seed(42), &mut before).unwrap();
        let keys = keys.as_primitive::<UInt64Type>();
        assert_eq!(keys.value(0), before[0]);
        assert_eq!(keys.value(2), before[2]);
        assert!(keys.is_null(1));
        // Fixed: a change of hash (an upgrade of the engine's) would make every saved
        // sketch a stranger to new answers; this says so before it ships.
        assert_eq!(
            keys.value(0),
            17_837_987_952_768_220_107,
            "the key of a known pseudonym under seed 42"
        );
        assert_ne!(
            keys_of(&view, 43)
                .unwrap()
                .as_primitive::<UInt64Type>()
                .value(0),
            keys.value(0)
        );
    }
}
