//! Secondary suppression: withholding more cells until no withheld cell can be
//! recomputed exactly from what is published, the totals included, knowing that a
//! cell cannot go below zero.
//!
//! The values an attacker can put in the withheld cells are those that keep every
//! total and no cell below zero. A withheld cell is safe when some such change moves
//! it: the withheld cells then change together along a cycle, each row and column of
//! the cycle gaining in one cell what it loses in another, and every cell that loses
//! must hold more than zero (it is *movable*; a zero, or an empty cell, can only gain).
//!
//! **Two dimensions with margins** (rows × columns, the last row and the last column
//! the totals): the rows and the columns are the nodes of a graph, the withheld cells
//! its edges. Each withheld cell gives an arc from its row to its column (the cell
//! gains) and, when it is movable, an arc back (it loses); for a total the two are
//! swapped (a total gains when a cell of its row loses). A change that keeps every
//! total is a directed cycle of these arcs, so a withheld cell is safe exactly when one
//! of its arcs lies on a directed cycle that does not use the cell twice. While a cell
//! is not safe, the cheapest published cells that close such a cycle through it are
//! withheld too (Dijkstra: published cells cost what they are worth, totals and zeros
//! far more, withheld ones nothing). Arcs are only ever added, so a safe cell stays
//! safe and this ends.
//!
//! **One dimension** (cells and their total): the cells less the total make zero. A
//! withheld cell is safe when another is withheld and one of the two can lose, or when
//! the total is withheld too (both gain).
//!
//! Beyond: what is guaranteed is that no withheld cell has a single possible value;
//! how wide the range is (a protection level) is not, and an attacker who also knows
//! the rules (a suppressed cell is under the threshold, a secondary one is not) may
//! narrow it. Tables of three or more dimensions are not protected as a whole.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// The shape of a grid of cells, totals included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `cells` values and their total, the last.
    OneWay {
        /// Cells, the total included.
        cells: usize,
    },
    /// `rows` × `cols`, row-major; the last row and the last column are the totals.
    TwoWay {
        /// Rows, the total row included.
        rows: usize,
        /// Columns, the total column included.
        cols: usize,
    },
}

impl Shape {
    /// How many cells, totals included.
    pub fn size(self) -> usize {
        match self {
            Self::OneWay { cells } => cells,
            Self::TwoWay { rows, cols } => rows * cols,
        }
    }

    /// Whether `cell` is a total.
    pub fn is_total(self, cell: usize) -> bool {
        match self {
            Self::OneWay { cells } => cell + 1 == cells,
            Self::TwoWay { rows, cols } => cell / cols + 1 == rows || cell % cols + 1 == cols,
        }
    }
}

/// What secondary suppression knows of each cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Withheld (by a rule, or already to protect another).
    pub withheld: bool,
    /// Its value can go down and stay a possible value (more than zero, or in a table
    /// whose values may be negative).
    pub movable: bool,
    /// What withholding it costs.
    pub cost: f64,
}

/// The withheld cells that have a single possible value given the published ones.
pub fn recomputable(shape: Shape, cells: &[Cell]) -> Vec<usize> {
    assert_eq!(cells.len(), shape.size(), "one entry per cell");
    let withheld: Vec<usize> = (0..cells.len()).filter(|&i| cells[i].withheld).collect();
    match shape {
        Shape::OneWay { cells: n } => {
            // A withheld cell is safe with another withheld one that can lose, or the
            // total withheld; the total, or a cell that can lose, with any other:
            // counted once, not pair by pair.
            let total = n - 1;
            let movable = withheld.iter().filter(|&&f| cells[f].movable).count();
            let total_withheld = cells[total].withheld;
            let exposed = |e: usize| {
                let others = withheld.len() - 1;
                if e == total || cells[e].movable {
                    others == 0
                } else {
                    movable == 0 && !total_withheld
                }
            };
            withheld.iter().copied().filter(|&e| exposed(e)).collect()
        }
        Shape::TwoWay { rows, cols } => {
            let graph = Arcs::of(shape, rows, cols, cells, None);
            let component = graph.components();
            withheld
                .iter()
                .copied()
                .filter(|&e| {
                    let (r, c) = (e / cols, rows + e % cols);
                    // Apart, no cycle joins them; together, one does, unless it is the
                    // cell's own two arcs (a movable cell), looked at closer.
                    component[r] != component[c]
                        || (cells[e].movable && !graph.on_cycle(e, rows, cols))
                })
                .collect()
        }
    }
}

/// Withholds more cells, the cheapest first, until none of the withheld ones can be
/// recomputed; returns those it added. A table too small or too empty to protect a
/// cell is withheld whole.
pub fn protect(shape: Shape, cells: &mut [Cell]) -> Vec<usize> {
    let mut added = Vec::new();
    // One pass over the cells found exposed: closing a cycle through one makes it and
    // the cycle's cells safe for good (arcs are only added), and may already have made
    // a later one safe, which is checked again before its turn. The loop ends at once
    // unless a table had to be withheld whole.
    loop {
        let exposed = recomputable(shape, cells);
        if exposed.is_empty() {
            return added;
        }
        for cell in exposed {
            if still_safe_now(shape, cells, cell) {
                continue;
            }
            if !close(shape, cells, cell, &mut added) {
                return added;
            }
        }
    }
}

fn still_safe_now(shape: Shape, cells: &[Cell], cell: usize) -> bool {
    match shape {
        Shape::OneWay { .. } => !recomputable(shape, cells).contains(&cell),
        Shape::TwoWay { rows, cols } => {
            Arcs::of(shape, rows, cols, cells, None).on_cycle(cell, rows, cols)
        }
    }
}

/// Withholds the complement that makes `cell` safe; false when there is none and the
/// whole table was withheld.
fn close(shape: Shape, cells: &mut [Cell], cell: usize, added: &mut Vec<usize>) -> bool {
    {
        let complement = match shape {
            Shape::OneWay { .. } => one_way_complement(shape, cells, cell),
            Shape::TwoWay { rows, cols } => cycle_through(shape, rows, cols, cells, cell),
        };
        let Some(complement) = complement.filter(|c| !c.is_empty()) else {
            for (i, c) in cells.iter_mut().enumerate() {
                if !c.withheld {
                    c.withheld = true;
                    added.push(i);
                }
            }
            return false;
        };
        for c in complement {
            cells[c].withheld = true;
            added.push(c);
        }
        true
    }
}

/// The cheapest published cell that makes `cell` safe in a one-way table: one that
/// can lose, or the total.
fn one_way_complement(shape: Shape, cells: &[Cell], cell: usize) -> Option<Vec<usize>> {
    (0..cells.len())
        .filter(|&i| i != cell && !cells[i].withheld)
        .filter(|&i| cells[i].movable || shape.is_total(i) || cells[cell].movable)
        .min_by(|&a, &b| cells[a].cost.total_cmp(&cells[b].cost))
        .map(|i| vec![i])
}

/// The arcs of the withheld cells between rows (`0..rows`) and columns
/// (`rows..rows + cols`): `(to, cell)` from each node.
struct Arcs {
    out: Vec<Vec<(usize, usize)>>,
}

impl Arcs {
    /// The arcs of the withheld cells; with `candidates`, those of the published cells
    /// too (for the search of a complement).
    fn of(shape: Shape, rows: usize, cols: usize, cells: &[Cell], candidates: Option<()>) -> Self {
        let mut out = vec![Vec::new(); rows + cols];
        for (i, c) in cells.iter().enumerate() {
            if !c.withheld && candidates.is_none() {
                continue;
            }
            let (r, col) = (i / cols, rows + i % cols);
            let (gains, loses) = if shape.is_total(i) && !is_grand_total(i, rows, cols) {
                ((col, r), (r, col))
            } else {
                ((r, col), (col, r))
            };
            out[gains.0].push((gains.1, i));
            if c.movable {
                out[loses.0].push((loses.1, i));
            }
        }
        Self { out }
    }

    /// Whether an arc of withheld `cell` lies on a directed cycle that does not use
    /// `cell` again: its head reaches its tail without it.
    fn on_cycle(&self, cell: usize, rows: usize, cols: usize) -> bool {
        let (r, c) = (cell / cols, rows + cell % cols);
        [(r, c), (c, r)].into_iter().any(|(tail, head)| {
            self.out[tail]
                .iter()
                .any(|&(to, i)| to == head && i == cell)
                && self.reaches(head, tail, cell)
        })
    }

    /// Each node's strongly connected component (Tarjan's, iteratively).
    fn components(&self) -> Vec<usize> {
        let n = self.out.len();
        let (mut index, mut low, mut component) =
            (vec![usize::MAX; n], vec![0; n], vec![usize::MAX; n]);
        let (mut on_stack, mut stack, mut next, mut found) = (vec![false; n], Vec::new(), 0, 0);
        for root in 0..n {
            if index[root] != usize::MAX {
                continue;
            }
            let mut calls = vec![(root, 0usize)];
            index[root] = next;
            low[root] = next;
            next += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (node, ref mut i)) = calls.last_mut() {
                if let Some(&(to, _)) = self.out[node].get(*i) {
                    *i += 1;
                    if index[to] == usize::MAX {
                        index[to] = next;
                        low[to] = next;
                        next += 1;
                        stack.push(to);
                        on_stack[to] = true;
                        calls.push((to, 0));
                    } else if on_stack[to] {
                        low[node] = low[node].min(index[to]);
                    }
                } else {
                    calls.pop();
                    if let Some(&(parent, _)) = calls.last() {
                        low[parent] = low[parent].min(low[node]);
                    }
                    if low[node] == index[node] {
                        while let Some(member) = stack.pop() {
                            on_stack[member] = false;
                            component[member] = found;
                            if member == node {
                                break;
                            }
                        }
                        found += 1;
                    }
                }
            }
        }
        component
    }

    fn reaches(&self, from: usize, to: usize, without: usize) -> bool {
        let mut seen = vec![false; self.out.len()];
        let mut queue = VecDeque::from([from]);
        seen[from] = true;
        while let Some(node) = queue.pop_front() {
            if node == to {
                return true;
            }
            for &(next, cell) in &self.out[node] {
                if cell != without && !seen[next] {
                    seen[next] = true;
                    queue.push_back(next);
                }
            }
        }
        false
    }
}

fn is_grand_total(cell: usize, rows: usize, cols: usize) -> bool {
    cell == rows * cols - 1
}

/// The published cells of the cheapest directed path that closes a cycle through the
/// arc of `cell` that gains, over the arcs of every cell but `cell` (withheld ones
/// free); none when there is no such path.
fn cycle_through(
    shape: Shape,
    rows: usize,
    cols: usize,
    cells: &[Cell],
    cell: usize,
) -> Option<Vec<usize>> {
    let arcs = Arcs::of(shape, rows, cols, cells, Some(()));
    let (r, c) = (cell / cols, rows + cell % cols);
    // The arc that gains goes from row to column, or from column to row for a total
    // of a row or a column: the path must come back from its head to its tail.
    let (tail, head) = if shape.is_total(cell) && !is_grand_total(cell, rows, cols) {
        (c, r)
    } else {
        (r, c)
    };
    let mut distance = vec![f64::INFINITY; rows + cols];
    let mut previous: Vec<Option<(usize, usize)>> = vec![None; rows + cols];
    let mut queue = BinaryHeap::new();
    distance[head] = 0.0;
    queue.push(Reverse((Ordered(0.0), head)));
    while let Some(Reverse((Ordered(d), node))) = queue.pop() {
        if d > distance[node] {
            continue;
        }
        if node == tail {
            break;
        }
        for &(next, i) in &arcs.out[node] {
            if i == cell {
                continue;
            }
            let step = if cells[i].withheld {
                0.0
            } else {
                cells[i].cost
            };
            if d + step < distance[next] {
                distance[next] = d + step;
                previous[next] = Some((node, i));
                queue.push(Reverse((Ordered(d + step), next)));
            }
        }
    }
    previous[tail]?;
    let mut path = Vec::new();
    let mut node = tail;
    while let Some((back, i)) = previous[node] {
        if !cells[i].withheld {
            path.push(i);
        }
        node = back;
    }
    Some(path)
}

/// A cost with a total order, for the queue.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ordered(f64);

impl Eq for Ordered {}

impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(values: &[f64], withheld: &[usize], margin_cost: &[usize]) -> Vec<Cell> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Cell {
                withheld: withheld.contains(&i),
                movable: *v > 0.0,
                cost: if margin_cost.contains(&i) {
                    1e12
                } else {
                    1.0 + v
                },
            })
            .collect()
    }

    #[test]
    fn one_withheld_cell_of_a_one_way_table_takes_the_cheapest_other_with_it() {
        let mut cells = grid(&[5.0, 1.0, 3.0, 9.0], &[1], &[3]);
        let added = protect(Shape::OneWay { cells: 4 }, &mut cells);
        assert_eq!(added, [2]);
        assert!(recomputable(Shape::OneWay { cells: 4 }, &cells).is_empty());
    }

    #[test]
    fn two_withheld_zeros_of_a_one_way_table_are_not_safe_together() {
        // 0 + 0 is known to be 0: a cell that can lose must join them.
        let mut cells = grid(&[0.0, 0.0, 7.0, 12.0, 19.0], &[0, 1], &[4]);
        assert_eq!(recomputable(Shape::OneWay { cells: 5 }, &cells), [0, 1]);
        assert_eq!(protect(Shape::OneWay { cells: 5 }, &mut cells), [2]);
    }

    #[test]
    fn a_single_withheld_cell_of_a_two_way_table_is_closed_into_a_cycle_of_four() {
        // 3 × 3 with margins: a 4 × 4 grid.
        let shape = Shape::TwoWay { rows: 4, cols: 4 };
        let mut values = vec![10.0; 16];
        values[5] = 1.0;
        let mut cells = grid(&values, &[0], &[3, 7, 11, 12, 13, 14, 15]);
        assert_eq!(recomputable(shape, &cells), [0]);
        let mut added = protect(shape, &mut cells);
        added.sort_unstable();
        assert_eq!(added, [1, 4, 5], "the cheapest rectangle through cell 0");
        assert!(recomputable(shape, &cells).is_empty());
    }

    #[test]
    fn withheld_zeros_sharing_a_row_are_not_protected_by_each_other() {
        // Row 0 is [0, 0, 15 | 15]: withholding the two zeros with cells of row 1
        // would let 15 = 15 tell they are both 0, then everything else.
        let shape = Shape::TwoWay { rows: 4, cols: 4 };
        let values = [
            0.0, 0.0, 15.0, 15.0, //
            20.0, 21.0, 22.0, 63.0, //
            23.0, 24.0, 25.0, 72.0, //
            43.0, 45.0, 62.0, 150.0,
        ];
        let mut cells = grid(&values, &[0, 1], &[3, 7, 11, 12, 13, 14, 15]);
        protect(shape, &mut cells);
        assert!(recomputable(shape, &cells).is_empty());
        assert!(
            cells[2].withheld,
            "a cell of row 0 that can lose is withheld"
        );
    }
}
