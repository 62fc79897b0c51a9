//! What the disclosure aggregates (`bastide_cell`, `bastide_sketch`) share: the
//! accumulator of an aggregation without groups (one group) over their groups
//! accumulator, and the rows a `FILTER` keeps.

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

/// A groups accumulator that can hold `n` groups before it has seen a row of them
/// (an aggregation over no row still answers its one group).
pub(crate) trait Grows: GroupsAccumulator {
    fn grow(&mut self, n: usize);
}

/// One group of `G`.
#[derive(Debug)]
pub(crate) struct Single<G>(pub G);

impl<G: Grows + std::fmt::Debug + Sync> Accumulator for Single<G> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        let rows = values.first().map_or(0, |v| v.len());
        self.0.update_batch(values, &vec![0; rows], None, 1)
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        self.0.grow(1);
        let out = self.0.evaluate(EmitTo::All)?;
        ScalarValue::try_from_array(&out, 0)
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.0.size()
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        self.0.grow(1);
        self.0
            .state(EmitTo::All)?
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let rows = states.first().map_or(0, |v| v.len());
        self.0.merge_batch(states, &vec![0; rows], 1)
    }
}

/// The state of `values` with each row its own group, from `empty`, an accumulator of
/// no group yet (what `convert_to_state` gives when DataFusion skips the partial
/// aggregation).
pub(crate) fn each_row_alone(
    mut empty: impl GroupsAccumulator,
    values: &[ArrayRef],
    opt_filter: Option<&BooleanArray>,
) -> DfResult<Vec<ArrayRef>> {
    let rows = values.first().map_or(0, |v| v.len());
    let groups: Vec<usize> = (0..rows).collect();
    empty.update_batch(values, &groups, opt_filter, rows)?;
    empty.state(EmitTo::All)
}

/// The rows `filter` keeps: true, not false or NULL.
pub(crate) fn kept_by(filter: &BooleanArray) -> BooleanBuffer {
    match filter.nulls() {
        Some(nulls) => filter.values() & nulls.inner(),
        None => filter.values().clone(),
    }
}
