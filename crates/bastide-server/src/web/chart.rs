//! An answer as the console shows it: a table of its cells (withheld cells marked as
//! such, never as a number) and, for aggregate answers, a bar chart drawn on the
//! server as SVG (no script, no style attribute: the page's policy holds), the first
//! numeric column against the row labels.

use bastide_query::Answer;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use maud::{Markup, html};

use super::i18n::Lang;

/// Rows drawn at most.
const BARS: usize = 40;

/// An answer's cells, as text, and its numeric columns' values.
#[derive(Debug, Default)]
pub(super) struct Table {
    pub columns: Vec<String>,
    pub numeric: Vec<bool>,
    /// Each row's cells, `None` for a null.
    pub rows: Vec<Vec<Option<String>>>,
    /// Each row's numeric values (`None` for a null or a text column).
    pub values: Vec<Vec<Option<f64>>>,
}

impl Table {
    /// The cells of `answer`.
    pub fn of(answer: &Answer) -> Self {
        let schema = answer.schema.clone();
        let mut table = Table {
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            numeric: schema
                .fields()
                .iter()
                .map(|f| f.data_type().is_numeric())
                .collect(),
            ..Table::default()
        };
        let options = FormatOptions::default().with_null("");
        for batch in &answer.batches {
            let formatters: Vec<_> = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).ok())
                .collect();
            let numbers: Vec<_> = batch
                .columns()
                .iter()
                .map(|c| {
                    c.data_type()
                        .is_numeric()
                        .then(|| datafusion::arrow::compute::cast(c, &DataType::Float64).ok())
                        .flatten()
                })
                .collect();
            for row in 0..batch.num_rows() {
                let mut cells = Vec::with_capacity(formatters.len());
                let mut values = Vec::with_capacity(formatters.len());
                for (i, column) in batch.columns().iter().enumerate() {
                    if column.is_null(row) {
                        cells.push(None);
                        values.push(None);
                        continue;
                    }
                    cells.push(Some(
                        formatters[i]
                            .as_ref()
                            .map(|f| f.value(row).to_string())
                            .unwrap_or_default(),
                    ));
                    values.push(
                        numbers[i]
                            .as_ref()
                            .map(|n| n.as_primitive::<Float64Type>().value(row)),
                    );
                }
                table.rows.push(cells);
                table.values.push(values);
            }
        }
        table
    }

    /// The value column (the last numeric one: aggregates come after the groups they
    /// count) and the label columns (those before it), if the answer can be drawn.
    fn axes(&self) -> Option<(Vec<usize>, usize)> {
        let value = self.numeric.iter().rposition(|n| *n)?;
        Some(((0..value).collect(), value))
    }
}

/// The answer's cells; with `withheld`, a null is a cell withheld by disclosure control.
pub(super) fn table_markup(lang: Lang, table: &Table, withheld: bool) -> Markup {
    // Withheld cells are nulls by then: with some withheld, a null is one of them, or
    // a genuine null.
    let hidden = lang.pick("masqué ou vide", "withheld or NULL");
    html! {
        div.scroll tabindex="0" {
            table.answer {
                caption.visually-hidden { (lang.pick("Résultat de la requête", "Query answer")) }
                thead { tr { @for (i, c) in table.columns.iter().enumerate() {
                    th scope="col" class=[table.numeric[i].then_some("num")] { (c) }
                } } }
                tbody {
                    @for row in &table.rows {
                        tr {
                            @for (i, cell) in row.iter().enumerate() {
                                @match cell {
                                    Some(text) => { td class=[table.numeric[i].then_some("num")] { (text) } },
                                    None if withheld => { td.withheld { span.badge.withheld { (hidden) } } },
                                    None => { td.null { span.visually-hidden { "NULL" } } },
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A horizontal bar chart of the first numeric column by the row labels; nothing when
/// the answer has no numeric column or no row.
pub(super) fn bars(lang: Lang, table: &Table, withheld: bool) -> Markup {
    let Some((label, value)) = table.axes() else {
        return html! {};
    };
    if table.rows.is_empty() {
        return html! {};
    }
    let shown = table.rows.len().min(BARS);
    let max = table
        .values
        .iter()
        .take(shown)
        .filter_map(|v| v[value])
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    let (left, width, bar, gap) = (180.0, 420.0, 18.0, 6.0);
    let height = shown as f64 * (bar + gap) + gap;
    let title = if label.is_empty() {
        table.columns[value].clone()
    } else {
        let by: Vec<&str> = label.iter().map(|l| table.columns[*l].as_str()).collect();
        format!(
            "{} {} {}",
            table.columns[value],
            lang.pick("par", "by"),
            by.join(", ")
        )
    };
    html! {
        figure.chart {
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="chart-title"
                viewBox={ "0 0 " (left + width + 80.0) " " (height) } width="100%" {
                title #chart-title { (title) }
                @for (i, row) in table.rows.iter().take(shown).enumerate() {
                    @let y = gap + i as f64 * (bar + gap);
                    @let text = if label.is_empty() {
                        (i + 1).to_string()
                    } else {
                        label.iter().map(|l| row[*l].clone().unwrap_or_default()).collect::<Vec<_>>().join(" · ")
                    };
                    text.label x=(left - 6.0) y=(y + bar * 0.75) text-anchor="end" { (truncate(&text, 24)) }
                    @match table.values[i][value] {
                        Some(v) => {
                            @let w = if max > 0.0 { v.abs() / max * width } else { 0.0 };
                            rect.bar.negative[v < 0.0] x=(left) y=(y) width=(w) height=(bar) {}
                            text.value x=(left + w + 4.0) y=(y + bar * 0.75) { (row[value].clone().unwrap_or_default()) }
                        },
                        None => {
                            @if withheld {
                                rect.withheld x=(left) y=(y) width="60" height=(bar) {}
                                text.value x=(left + 64.0) y=(y + bar * 0.75) { (lang.pick("masqué ou vide", "withheld or NULL")) }
                            } @else {
                                text.value x=(left + 4.0) y=(y + bar * 0.75) { "NULL" }
                            }
                        },
                    }
                }
            }
            figcaption {
                (title)
                @if table.rows.len() > shown {
                    " · " (shown) " / " (table.rows.len()) " " (lang.pick("lignes dessinées", "rows drawn"))
                }
            }
        }
    }
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(chars - 1).collect();
        cut.push('…');
        cut
    }
}
