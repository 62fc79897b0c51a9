//! `bastide_large_group(cells…)`: whether a group of an answer with totals (ROLLUP,
//! CUBE) has persons enough for its labels to be shown. Groups that have not are
//! left out before the whole table is judged ([`super::verdict::Verdict`]), so that
//! nothing decided over the whole table (its size limit, the grid of labels
//! secondary suppression protects) counts them: a researcher who cuts everyone else
//! into hundreds of groups of one person, then lets one person's rows add a group or
//! not, would otherwise read that person's facts from whether the answer passed a
//! limit. What the groups left out hold is still protected: each line of totals
//! knows its records, so secondary suppression knows where rows are missing.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bastide_sdc::{Aggregate, Rule, Rules, judge};
use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::verdict::facts;

/// The function, for the rules `rules`.
#[derive(Debug)]
pub(crate) struct LargeGroup {
    rules: Rules,
    signature: Signature,
}

impl PartialEq for LargeGroup {
    fn eq(&self, other: &Self) -> bool {
        self.rules == other.rules
    }
}

impl Eq for LargeGroup {}

impl Hash for LargeGroup {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rules.min_persons.hash(state);
    }
}

impl LargeGroup {
    /// Called on a group's own cells (slot 0), one per person column.
    pub fn udf(rules: Rules) -> ScalarUDF {
        ScalarUDF::from(Self {
            rules,
            signature: Signature::variadic_any(Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for LargeGroup {
    fn name(&self) -> &str {
        "bastide_large_group"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let cells = ColumnarValue::values_to_arrays(&args.args)?;
        // The same test as the verdict's for a row withheld whole.
        let large = (0..rows).map(|row| {
            !cells.iter().any(|c| {
                judge(&self.rules, Aggregate::Count, &facts(c, row)).contains(&Rule::Threshold)
            })
        });
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::from_iter(
            large.map(Some),
        ))))
    }
}
