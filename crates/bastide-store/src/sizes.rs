//! How many bytes each row of an array holds once written out, counted over that
//! array alone (the value caps of `bastide-query`'s functions, the rows a window
//! holds).
//!
//! An array sliced out of a batch keeps the whole batch's buffers, so its memory size
//! says nothing of its rows: the value caps measured arguments that way, and one
//! person's long list made every row of their batch too large (NULL, thousands of
//! other persons' rows), a count moved by far more than the rules' threshold by whether
//! that person had some fact. Here a row counts its own value only (a text's bytes, a
//! list's elements, a struct's fields), so a cap on it judges that row alone, and the
//! rows of a slice add up to that slice.

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericListArray, OffsetSizeTrait, StructArray,
};
use datafusion::arrow::datatypes::{ArrowNativeType, DataType};

/// The bytes of each row of `array`, as its value would be written out.
pub fn row_bytes(array: &dyn Array) -> Vec<usize> {
    let rows = array.len();
    match array.data_type() {
        DataType::Null => vec![0; rows],
        DataType::Boolean => vec![1; rows],
        DataType::FixedSizeBinary(width) => vec![as_len(*width); rows],
        DataType::Utf8 => spans(array.as_string::<i32>().value_offsets()),
        DataType::LargeUtf8 => spans(array.as_string::<i64>().value_offsets()),
        DataType::Binary => spans(array.as_binary::<i32>().value_offsets()),
        DataType::LargeBinary => spans(array.as_binary::<i64>().value_offsets()),
        // A view's first four bytes are its value's length.
        DataType::Utf8View => viewed(array.as_string_view().views()),
        DataType::BinaryView => viewed(array.as_binary_view().views()),
        DataType::List(_) => listed(array.as_list::<i32>()),
        DataType::LargeList(_) => listed(array.as_list::<i64>()),
        DataType::Map(..) => {
            let map = array.as_map();
            within(map.value_offsets(), map.entries())
        }
        DataType::FixedSizeList(_, size) => {
            // A slice of a fixed-size list holds its own elements only.
            let list = array.as_fixed_size_list();
            let elements = row_bytes(list.values().as_ref());
            let size = as_len(*size).max(1);
            (0..rows)
                .map(|row| elements.iter().skip(row * size).take(size).sum())
                .collect()
        }
        DataType::Struct(_) => fields(array.as_struct()),
        DataType::Dictionary(..) => {
            let dictionary = array.as_any_dictionary();
            let values = row_bytes(dictionary.values().as_ref());
            dictionary
                .normalized_keys()
                .into_iter()
                .map(|key| values.get(key).copied().unwrap_or(0))
                .collect()
        }
        other => match other.primitive_width() {
            Some(width) => vec![width; rows],
            // Unions, run-ends, list views: each row as large as the whole slice, which
            // only a slice of that one row makes its own.
            None => {
                let whole = array
                    .to_data()
                    .get_slice_memory_size()
                    .unwrap_or_else(|_| array.get_array_memory_size());
                vec![whole; rows]
            }
        },
    }
}

/// The elements of the lists of `array`'s rows, counted over its rows only (0 when it
/// is not a list).
pub fn elements(array: &dyn Array) -> usize {
    match array.data_type() {
        DataType::List(_) => extent(array.as_list::<i32>().value_offsets()),
        DataType::LargeList(_) => extent(array.as_list::<i64>().value_offsets()),
        DataType::FixedSizeList(_, _) => array.as_fixed_size_list().values().len(),
        _ => 0,
    }
}

fn as_len(width: i32) -> usize {
    usize::try_from(width).unwrap_or(0)
}

/// Each row's length from consecutive offsets.
fn spans<O: ArrowNativeType>(offsets: &[O]) -> Vec<usize> {
    offsets
        .windows(2)
        .map(|w| w[1].as_usize().saturating_sub(w[0].as_usize()))
        .collect()
}

/// Elements from the first row's start to the last row's end.
fn extent<O: ArrowNativeType>(offsets: &[O]) -> usize {
    match (offsets.first(), offsets.last()) {
        (Some(first), Some(last)) => last.as_usize().saturating_sub(first.as_usize()),
        _ => 0,
    }
}

fn viewed(views: &[u128]) -> Vec<usize> {
    views.iter().map(|view| *view as u32 as usize).collect()
}

fn listed<O: OffsetSizeTrait>(list: &GenericListArray<O>) -> Vec<usize> {
    within(list.value_offsets(), list.values())
}

/// Each row's share of `values`: the elements its offsets span (`values` is the
/// whole child, which a slice of the parent does not cut).
fn within<O: ArrowNativeType>(offsets: &[O], values: &dyn Array) -> Vec<usize> {
    let start = offsets.first().map_or(0, |o| o.as_usize());
    let end = offsets.last().map_or(0, |o| o.as_usize());
    let child: ArrayRef = values.slice(start, end.saturating_sub(start));
    let mut sums = Vec::with_capacity(child.len() + 1);
    sums.push(0usize);
    for size in row_bytes(child.as_ref()) {
        sums.push(sums.last().copied().unwrap_or(0).saturating_add(size));
    }
    offsets
        .windows(2)
        .map(|w| {
            let from = w[0].as_usize().saturating_sub(start).min(child.len());
            let to = w[1].as_usize().saturating_sub(start).min(child.len());
            sums[to].saturating_sub(sums[from])
        })
        .collect()
}

fn fields(array: &StructArray) -> Vec<usize> {
    array
        .columns()
        .iter()
        .map(|field| row_bytes(field.as_ref()))
        .fold(vec![0; array.len()], |mut all, one| {
            for (sum, size) in all.iter_mut().zip(one) {
                *sum = sum.saturating_add(size);
            }
            all
        })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        Int64Array, ListArray, StringArray, StringViewArray, StructArray,
    };
    use datafusion::arrow::datatypes::{Field, Int64Type};

    use super::*;

    #[test]
    fn a_slice_counts_its_own_rows_not_the_batch_it_was_cut_from() {
        let long = "x".repeat(5_000);
        let texts = StringArray::from(vec!["a", long.as_str(), "bc"]);
        assert_eq!(row_bytes(&texts), vec![1, 5_000, 2]);
        assert_eq!(row_bytes(&texts.slice(2, 1)), vec![2]);
        let views = StringViewArray::from(vec!["a", long.as_str(), "bc"]);
        assert_eq!(row_bytes(&views.slice(0, 1)), vec![1]);

        let numbers = Int64Array::from_iter_values(0..10_000);
        assert_eq!(row_bytes(&numbers.slice(5, 3)), vec![8, 8, 8]);

        let lists = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1)]),
            Some((0..1_000).map(Some).collect()),
            Some(vec![Some(2), Some(3)]),
        ]);
        assert_eq!(row_bytes(&lists), vec![8, 8_000, 16]);
        let last = lists.slice(2, 1);
        assert_eq!(row_bytes(&last), vec![16]);
        assert_eq!(elements(&last), 2);
        assert_eq!(elements(&lists), 1_003);

        let pairs = StructArray::from(vec![
            (
                Arc::new(Field::new("n", DataType::Int64, false)),
                Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("t", DataType::Utf8, false)),
                Arc::new(texts) as ArrayRef,
            ),
        ]);
        assert_eq!(row_bytes(&pairs), vec![9, 5_008, 10]);
        assert_eq!(row_bytes(&pairs.slice(0, 1)), vec![9]);
    }
}
