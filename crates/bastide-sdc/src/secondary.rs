//! Secondary suppression: withholding more cells until no withheld cell can be
//! recomputed from what is published, the totals included.
//!
//! **One dimension** (cells and their total): the total is one equation over the
//! cells, so a withheld cell can be recomputed exactly when it is the only one
//! withheld; a second one, the cheapest, is withheld with it.
//!
//! **Two dimensions with margins** (rows × columns, the last row and the last column
//! the totals): every row and every column is an equation (its cells add up to its
//! total; the totals add up to the grand total). Seen as a bipartite graph whose nodes
//! are the rows and the columns and whose edges are the cells, every equation says
//! that the values on the edges at a node add up to zero (the totals counted with a
//! minus sign). The withheld values that fit what is published differ from the true
//! ones by a combination of alternating cycles of withheld cells, so a withheld cell
//! is recomputable exactly when it lies on no cycle of withheld cells: when it is a
//! *bridge* of their graph. While there is a bridge, the cheapest path that closes a
//! cycle through it (published cells cost what they are worth, withheld ones nothing)
//! is withheld too. Adding edges never makes a new bridge, so this ends, with no
//! withheld cell recomputable by any combination of the equations.
//!
//! Beyond: the protection is against exact recomputation from the table's own totals
//! (the tests check it against a linear-algebra oracle); bounds from non-negative
//! counts are narrowed by preferring non-zero cells as complements, not guaranteed
//! wide. Tables of three or more dimensions are checked as every two-dimensional
//! table they hold (see the crate's README section), not as a whole.

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
    fn len(self) -> usize {
        match self {
            Self::OneWay { cells } => cells,
            Self::TwoWay { rows, cols } => rows * cols,
        }
    }
}

/// The withheld cells that could be recomputed exactly from the published ones.
pub fn recomputable(shape: Shape, withheld: &[bool]) -> Vec<usize> {
    assert_eq!(withheld.len(), shape.len(), "one flag per cell");
    match shape {
        Shape::OneWay { .. } => {
            let hidden: Vec<usize> = (0..withheld.len()).filter(|i| withheld[*i]).collect();
            if hidden.len() == 1 {
                hidden
            } else {
                Vec::new()
            }
        }
        Shape::TwoWay { rows, cols } => bridges(rows, cols, withheld),
    }
}

/// Withholds more cells (the cheapest by `cost`) until none of `withheld` can be
/// recomputed; returns those it added.
pub fn protect(shape: Shape, withheld: &mut [bool], cost: &[f64]) -> Vec<usize> {
    assert_eq!(cost.len(), shape.len(), "one cost per cell");
    let mut added = Vec::new();
    loop {
        let exposed = recomputable(shape, withheld);
        let Some(&cell) = exposed.first() else {
            return added;
        };
        let complement = match shape {
            Shape::OneWay { .. } => cheapest_other(withheld, cost, cell).into_iter().collect(),
            Shape::TwoWay { rows, cols } => cycle_through(rows, cols, withheld, cost, cell),
        };
        if complement.is_empty() {
            // A table of one cell (and its total equal to it): withhold both.
            for flag in withheld.iter_mut() {
                *flag = true;
            }
            return added;
        }
        for c in complement {
            if !withheld[c] {
                withheld[c] = true;
                added.push(c);
            }
        }
    }
}

fn cheapest_other(withheld: &[bool], cost: &[f64], except: usize) -> Option<usize> {
    (0..withheld.len())
        .filter(|&i| i != except && !withheld[i])
        .min_by(|&a, &b| cost[a].total_cmp(&cost[b]))
}

/// Withheld cells that are bridges of the bipartite graph rows–columns (Tarjan's
/// bridges, iteratively: tables may have thousands of rows).
fn bridges(rows: usize, cols: usize, withheld: &[bool]) -> Vec<usize> {
    let nodes = rows + cols;
    let mut adjacent: Vec<Vec<(usize, usize)>> = vec![Vec::new(); nodes];
    for (cell, _) in withheld.iter().enumerate().filter(|(_, w)| **w) {
        let (r, c) = (cell / cols, cell % cols);
        adjacent[r].push((rows + c, cell));
        adjacent[rows + c].push((r, cell));
    }
    let mut order = vec![usize::MAX; nodes];
    let mut low = vec![0; nodes];
    let mut found = Vec::new();
    let mut next = 0;
    for root in 0..nodes {
        if order[root] != usize::MAX {
            continue;
        }
        // (node, the cell it was reached by, the next neighbour to visit)
        let mut stack = vec![(root, usize::MAX, 0usize)];
        order[root] = next;
        low[root] = next;
        next += 1;
        while let Some(&mut (node, via, ref mut i)) = stack.last_mut() {
            if let Some(&(to, cell)) = adjacent[node].get(*i) {
                *i += 1;
                if cell == via {
                    continue;
                }
                if order[to] == usize::MAX {
                    order[to] = next;
                    low[to] = next;
                    next += 1;
                    stack.push((to, cell, 0));
                } else {
                    low[node] = low[node].min(order[to]);
                }
            } else {
                stack.pop();
                if let Some(&(parent, ..)) = stack.last() {
                    low[parent] = low[parent].min(low[node]);
                    if low[node] > order[parent] {
                        found.push(via);
                    }
                }
            }
        }
    }
    found.sort_unstable();
    found
}

/// The published cells of the cheapest path that closes a cycle through `cell`
/// (Dijkstra on the complete bipartite graph without `cell`; withheld cells are free).
fn cycle_through(
    rows: usize,
    cols: usize,
    withheld: &[bool],
    cost: &[f64],
    cell: usize,
) -> Vec<usize> {
    let nodes = rows + cols;
    let (from, to) = (cell / cols, rows + cell % cols);
    let edge = |a: usize, b: usize| {
        let (r, c) = if a < rows {
            (a, b - rows)
        } else {
            (b, a - rows)
        };
        r * cols + c
    };
    let mut distance = vec![f64::INFINITY; nodes];
    let mut previous = vec![usize::MAX; nodes];
    let mut done = vec![false; nodes];
    distance[from] = 0.0;
    loop {
        let Some(node) = (0..nodes)
            .filter(|&n| !done[n] && distance[n].is_finite())
            .min_by(|&a, &b| distance[a].total_cmp(&distance[b]))
        else {
            return Vec::new();
        };
        if node == to {
            break;
        }
        done[node] = true;
        let across = if node < rows { rows..nodes } else { 0..rows };
        for other in across {
            let e = edge(node, other);
            if e == cell || done[other] {
                continue;
            }
            let step = if withheld[e] { 0.0 } else { cost[e] };
            if distance[node] + step < distance[other] {
                distance[other] = distance[node] + step;
                previous[other] = node;
            }
        }
    }
    let mut path = Vec::new();
    let mut node = to;
    while node != from {
        let back = previous[node];
        let e = edge(back, node);
        if !withheld[e] {
            path.push(e);
        }
        node = back;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_withheld_cell_of_a_one_way_table_takes_the_cheapest_other_with_it() {
        let mut withheld = [false, true, false, false];
        let added = protect(
            Shape::OneWay { cells: 4 },
            &mut withheld,
            &[5.0, 1.0, 3.0, 100.0],
        );
        assert_eq!(added, [2]);
        assert!(recomputable(Shape::OneWay { cells: 4 }, &withheld).is_empty());
    }

    #[test]
    fn a_single_withheld_cell_of_a_two_way_table_is_closed_into_a_cycle_of_four() {
        // 3 × 3 with margins: a 4 × 4 grid.
        let shape = Shape::TwoWay { rows: 4, cols: 4 };
        let mut withheld = vec![false; 16];
        withheld[0] = true;
        assert_eq!(recomputable(shape, &withheld), [0]);
        let mut cost = vec![10.0; 16];
        for margin in [3, 7, 11, 12, 13, 14, 15] {
            cost[margin] = 1e9;
        }
        cost[5] = 1.0;
        let added = protect(shape, &mut withheld, &cost);
        let mut added = added.clone();
        added.sort_unstable();
        assert_eq!(added, [1, 4, 5], "the cheapest rectangle through cell 0");
        assert!(recomputable(shape, &withheld).is_empty());
    }
}
