//! Arrow's two layouts of text and binary columns, in one place. Tables are read in
//! view types (`Utf8View`, `BinaryView`), as DataFusion reads any Parquet file whose
//! schema it infers: joins, groupings and comparisons on them are markedly faster.
//! What leaves the engine (answers, exported files) is turned back into the classic
//! types (`Utf8`, `Binary`) every Arrow and Parquet client reads.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef, Schema, SchemaRef};

/// `schema` with its text and binary columns in view types.
pub fn view_types(schema: &Schema) -> SchemaRef {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|field| {
            let read = match field.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
                DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
                other => other.clone(),
            };
            field.as_ref().clone().with_data_type(read)
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `schema` with the classic types wherever it has view types, nested ones included
/// (the same schema when it has none).
pub fn classic(schema: &SchemaRef) -> SchemaRef {
    if !schema.fields().iter().any(|f| has_view(f.data_type())) {
        return schema.clone();
    }
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| {
            f.as_ref()
                .clone()
                .with_data_type(classic_type(f.data_type()))
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Whether `t` is, or holds, a view type.
pub fn has_view(t: &DataType) -> bool {
    classic_type(t) != *t
}

/// `t` with the classic types wherever it has view types.
pub fn classic_type(t: &DataType) -> DataType {
    let field = |f: &FieldRef| {
        Arc::new(
            f.as_ref()
                .clone()
                .with_data_type(classic_type(f.data_type())),
        )
    };
    match t {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::List(f) => DataType::List(field(f)),
        DataType::LargeList(f) => DataType::LargeList(field(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(field(f), *n),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(field).collect()),
        DataType::Map(f, sorted) => DataType::Map(field(f), *sorted),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::Field;

    use super::*;

    #[test]
    fn text_is_read_as_views_and_answered_in_the_classic_layout_even_nested() {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
        ]);
        let read = view_types(&schema);
        assert_eq!(read.field(0).data_type(), &DataType::Utf8View);
        assert_eq!(classic(&read).as_ref(), &schema);
        let nested = DataType::List(Arc::new(Field::new("item", DataType::Utf8View, true)));
        assert!(has_view(&nested));
        assert_eq!(
            classic_type(&nested),
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
        );
    }
}
