//! The grid of an answer with totals (ROLLUP, CUBE) that secondary suppression
//! protects: each row's place among the labels, and the places that stand for the
//! groups left out before the whole table was judged ([`super::large`]).

use std::collections::{HashMap, HashSet};

use bastide_sdc::secondary::Shape;
use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue, internal_err};

use super::verdict::{Layout, Totals, facts};

/// Most cells of the table secondary suppression protects (rows × columns); past it
/// every cell of the aggregate is withheld.
const MOST_TABLE_CELLS: usize = 1 << 14;

/// The grid secondary suppression protects.
pub(super) struct Grid {
    pub shape: Shape,
    /// Each row's place.
    pub places: Vec<usize>,
    /// Places that stand for groups left out (withheld from the start).
    pub hidden: Vec<bool>,
}

/// Each row's place in the grid of the answer's labels, the grid's shape, and
/// which places stand for groups left out; none when the grid is too large (or two
/// groups would share a place).
pub(super) fn of(layout: &Layout, values: &[ArrayRef], rows: usize) -> DfResult<Option<Grid>> {
    let base = layout.persons * layout.slots;
    let Some(id) = values.get(base) else {
        return internal_err!("bastide_verdict: no grouping id");
    };
    let id = datafusion::arrow::compute::cast(id, &DataType::UInt64)?;
    let id = id.as_primitive::<datafusion::arrow::datatypes::UInt64Type>();
    // A label as the value it is: as text, two labels could read alike (a struct's
    // strings are printed unquoted) and two groups take one place.
    let label = |key: usize, row: usize| -> DfResult<ScalarValue> {
        let array = values.get(base + 1 + key).ok_or_else(|| {
            datafusion::error::DataFusionError::Internal("a grouping column is missing".into())
        })?;
        ScalarValue::try_from_array(array, row)
    };
    // Each group's records: a total holds its cells' records, all of them.
    let records = |row: usize| facts(&values[0], row).records;
    let grid = match layout.totals {
        Totals::OneWay => {
            let mut index: HashMap<ScalarValue, usize> = HashMap::new();
            for row in 0..rows {
                if id.value(row) == 0 {
                    let n = index.len();
                    index.entry(label(0, row)?).or_insert(n);
                }
            }
            // The labels, the groups left out, the total.
            let cells = index.len() + 2;
            let shape = Shape::OneWay { cells };
            if shape.size() > MOST_TABLE_CELLS {
                return Ok(None);
            }
            let mut places = Vec::with_capacity(rows);
            let (mut shown, mut total) = (0, None);
            for row in 0..rows {
                places.push(match id.value(row) {
                    0 => {
                        shown += records(row);
                        index[&label(0, row)?]
                    }
                    _ => {
                        total = Some(records(row));
                        cells - 1
                    }
                });
            }
            let mut hidden = vec![false; cells];
            hidden[cells - 2] = total.is_some_and(|t| t > shown);
            Grid {
                shape,
                places,
                hidden,
            }
        }
        Totals::TwoWay => {
            let (mut rs, mut cs) = (HashMap::new(), HashMap::new());
            for row in 0..rows {
                let g = id.value(row);
                if g & 2 == 0 {
                    let n = rs.len();
                    rs.entry(label(0, row)?).or_insert(n);
                }
                if g & 1 == 0 {
                    let n = cs.len();
                    cs.entry(label(1, row)?).or_insert(n);
                }
            }
            // Each way: the labels, the groups left out, the margin.
            let (nr, nc) = (rs.len() + 2, cs.len() + 2);
            let shape = Shape::TwoWay { rows: nr, cols: nc };
            if shape.size() > MOST_TABLE_CELLS {
                return Ok(None);
            }
            let mut places = Vec::with_capacity(rows);
            // Each line's records: its margin's, and its cells'.
            let (mut row_margin, mut row_cells) = (vec![None; nr], vec![0; nr]);
            let (mut col_margin, mut col_cells) = (vec![None; nc], vec![0; nc]);
            for row in 0..rows {
                let g = id.value(row);
                let r = if g & 2 == 0 {
                    rs[&label(0, row)?]
                } else {
                    nr - 1
                };
                let c = if g & 1 == 0 {
                    cs[&label(1, row)?]
                } else {
                    nc - 1
                };
                let n = records(row);
                if c == nc - 1 {
                    row_margin[r] = Some(n);
                } else {
                    row_cells[r] += n;
                }
                if r == nr - 1 {
                    col_margin[c] = Some(n);
                } else {
                    col_cells[c] += n;
                }
                places.push(r * nc + c);
            }
            // A line misses groups when its margin holds more than its cells, or
            // when its margin itself was left out.
            let misses = |margin: &[Option<u64>], cells: &[u64], i: usize| {
                margin[i].is_none_or(|m| m > cells[i])
            };
            let row_misses: Vec<bool> = (0..nr)
                .map(|r| r != nr - 2 && misses(&row_margin, &row_cells, r))
                .collect();
            let col_misses: Vec<bool> = (0..nc)
                .map(|c| c != nc - 2 && misses(&col_margin, &col_cells, c))
                .collect();
            // The margins' own lines miss some when a label is not in the grid
            // (its margin was left out): the last row for columns, the last
            // column for rows.
            let (columns_out, rows_out) = (row_misses[nr - 1], col_misses[nc - 1]);
            let mut hidden = vec![false; nr * nc];
            for r in 0..nr {
                for c in 0..nc {
                    hidden[r * nc + c] = match (r == nr - 2, c == nc - 2) {
                        // Groups left out whose labels are both not in the grid.
                        (true, true) => columns_out && rows_out,
                        // Of row r, in columns not in the grid (of the margins'
                        // row: those columns' margins).
                        (false, true) => row_misses[r] && (r == nr - 1 || columns_out),
                        (true, false) => col_misses[c] && (c == nc - 1 || rows_out),
                        // Two labels the grid has: a group left out there when
                        // both its lines miss some.
                        (false, false) => row_misses[r] && col_misses[c],
                    };
                }
            }
            // Places rows fill are theirs.
            for &place in &places {
                hidden[place] = false;
            }
            Grid {
                shape,
                places,
                hidden,
            }
        }
        Totals::None => return internal_err!("bastide_verdict: a grid without totals"),
    };
    Ok(distinct(&grid.places).then_some(grid))
}

/// Whether no two rows took the same place: a place holds one group, or the
/// protection of one would be given to another (then the whole table is withheld).
fn distinct(places: &[usize]) -> bool {
    let mut seen = HashSet::with_capacity(places.len());
    places.iter().all(|p| seen.insert(*p))
}
