//! `bastide_perturbed(value, cell, kind)`: a published aggregate with its cell-key
//! noise ([`bastide_sdc::perturb`]), when the rules ask for it. The cell is the
//! aggregate's own `bastide_cell` summary (its rows' key, records and largest
//! contribution); `kind` says whether the value is a count, a sum or a mean.

use std::sync::Arc;

use bastide_sdc::perturb::{magnitude_noise, perturbed_count};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, lit,
};

use super::cell::at;
use bastide_sdc::Aggregate;

/// The function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Perturbed {
    signature: Signature,
}

impl Perturbed {
    /// `value` (an aggregate of `aggregate`) with the noise of `cell`.
    pub fn call(value: Expr, cell: Expr, aggregate: Aggregate) -> Expr {
        let kind = match aggregate {
            Aggregate::Count => 0i64,
            Aggregate::Sum => 1,
            Aggregate::Mean => 2,
        };
        ScalarUDF::from(Self {
            signature: Signature::any(3, Volatility::Immutable),
        })
        .call(vec![value, cell, lit(kind)])
    }
}

impl ScalarUDFImpl for Perturbed {
    fn name(&self) -> &str {
        "bastide_perturbed"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        Ok(args[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let [value, cell, kind] = args.args.as_slice() else {
            return exec_err!("bastide_perturbed takes a value, a cell and a kind");
        };
        let ColumnarValue::Scalar(ScalarValue::Int64(Some(kind))) = kind else {
            return exec_err!("bastide_perturbed's kind is a constant");
        };
        let (value, cell) = (value.to_array(rows)?, cell.to_array(rows)?);
        let t = value.data_type().clone();
        let cells = cell.as_list::<i32>();
        let facts = |row: usize| -> Option<(u64, f64, f64)> {
            if cells.is_null(row) {
                return None;
            }
            let numbers = cells.value(row);
            let n = numbers.as_primitive::<Float64Type>().values();
            let key = (*n.get(at::KEY)? as u64) << 11;
            Some((
                key,
                *n.get(at::RECORDS)?,
                n.get(at::LARGEST).copied().unwrap_or(0.0),
            ))
        };
        let out: ArrayRef = if *kind == 0 && t.is_integer() {
            let counts = cast(&value, &DataType::Int64)?;
            let counts = counts.as_primitive::<Int64Type>();
            let moved: Int64Array = (0..rows)
                .map(|row| {
                    let count = counts.is_valid(row).then(|| counts.value(row))?;
                    Some(facts(row).map_or(count, |(key, ..)| perturbed_count(count, key)))
                })
                .collect();
            Arc::new(moved)
        } else {
            let numbers = cast(&value, &DataType::Float64)?;
            let numbers = numbers.as_primitive::<Float64Type>();
            let whole = t.is_integer();
            let moved: Float64Array = (0..rows)
                .map(|row| {
                    let number = numbers.is_valid(row).then(|| numbers.value(row))?;
                    let Some((key, records, largest)) = facts(row) else {
                        return Some(number);
                    };
                    let noise = match kind {
                        2 if records > 0.0 => magnitude_noise(key, largest) / records,
                        _ => magnitude_noise(key, largest),
                    };
                    Some(if whole {
                        (number + noise).round()
                    } else {
                        number + noise
                    })
                })
                .collect();
            Arc::new(moved)
        };
        Ok(ColumnarValue::Array(cast(&out, &t)?))
    }
}
