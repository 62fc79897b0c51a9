//! An oracle independent of the crate's graph reasoning: which withheld cells of a
//! table with totals an attacker can recompute exactly, by linear algebra over every
//! equation the table's totals give.

/// The withheld cells of a `rows` × `cols` grid (the last row and column the totals)
/// whose value the published cells and the equations determine.
pub fn determined_two_way(rows: usize, cols: usize, withheld: &[bool]) -> Vec<usize> {
    let mut equations = Vec::new();
    // Row r: its cells add up to its total (the last column).
    for r in 0..rows {
        let mut eq = vec![0.0; rows * cols];
        for c in 0..cols {
            eq[r * cols + c] = if c + 1 == cols { -1.0 } else { 1.0 };
        }
        equations.push(eq);
    }
    for c in 0..cols {
        let mut eq = vec![0.0; rows * cols];
        for r in 0..rows {
            eq[r * cols + c] = if r + 1 == rows { -1.0 } else { 1.0 };
        }
        equations.push(eq);
    }
    determined(&equations, withheld)
}

/// The same for a one-way table: its cells add up to the last, the total.
pub fn determined_one_way(withheld: &[bool]) -> Vec<usize> {
    let n = withheld.len();
    let eq: Vec<f64> = (0..n)
        .map(|i| if i + 1 == n { -1.0 } else { 1.0 })
        .collect();
    determined(&[eq], withheld)
}

/// A withheld cell is determined when its unit vector lies in the span of the
/// equations restricted to the withheld cells (the published ones are known).
fn determined(equations: &[Vec<f64>], withheld: &[bool]) -> Vec<usize> {
    let unknown: Vec<usize> = (0..withheld.len()).filter(|i| withheld[*i]).collect();
    let restricted: Vec<Vec<f64>> = equations
        .iter()
        .map(|eq| unknown.iter().map(|&i| eq[i]).collect())
        .collect();
    let base = rank(restricted.clone());
    unknown
        .iter()
        .enumerate()
        .filter(|(k, _)| {
            let mut with = restricted.clone();
            let mut unit = vec![0.0; unknown.len()];
            unit[*k] = 1.0;
            with.push(unit);
            rank(with) == base
        })
        .map(|(_, &cell)| cell)
        .collect()
}

fn rank(mut m: Vec<Vec<f64>>) -> usize {
    let cols = m.first().map_or(0, Vec::len);
    let mut rank = 0;
    for c in 0..cols {
        let Some(pivot) = (rank..m.len()).find(|&r| m[r][c].abs() > 1e-9) else {
            continue;
        };
        m.swap(rank, pivot);
        let pivot_row = m[rank].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != rank && row[c].abs() > 1e-9 {
                let factor = row[c] / pivot_row[c];
                for (value, p) in row.iter_mut().zip(&pivot_row).skip(c) {
                    *value -= factor * p;
                }
            }
        }
        rank += 1;
    }
    rank
}

/// The withheld cells of a `rows` × `cols` grid (totals last) that have one possible
/// value when no cell may go below zero: by enumerating every simple cycle of withheld
/// cells and trying both ways round (a change that keeps every total moves the cells
/// of a cycle by turns up and down, totals the other way; a zero cannot go down). A
/// cell moved by no feasible cycle is fixed (any feasible change is a sum of feasible
/// cycles).
pub fn fixed_two_way(rows: usize, cols: usize, withheld: &[bool], values: &[f64]) -> Vec<usize> {
    let nodes = rows + cols;
    let edge = |a: usize, b: usize| {
        let (r, c) = if a < rows {
            (a, b - rows)
        } else {
            (b, a - rows)
        };
        r * cols + c
    };
    let total = |cell: usize| {
        let (r, c) = (cell / cols, cell % cols);
        (r + 1 == rows) != (c + 1 == cols)
    };
    let mut free = vec![false; withheld.len()];
    // Every simple cycle, walked from its smallest node (each found twice, once per
    // direction of travel: harmless).
    let mut stack: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for start in 0..nodes {
        stack.push((vec![start], Vec::new()));
        while let Some((path, cells)) = stack.pop() {
            let last = *path.last().unwrap();
            let across = if last < rows { rows..nodes } else { 0..rows };
            for next in across {
                let cell = edge(last, next);
                if !withheld[cell] || cells.contains(&cell) {
                    continue;
                }
                if next == start && cells.len() >= 3 {
                    // Back at the start after an odd number of cells: a cycle.
                    let mut cycle = cells.clone();
                    cycle.push(cell);
                    for sign in [1.0, -1.0] {
                        let feasible = cycle.iter().enumerate().all(|(k, &c)| {
                            let step = if k % 2 == 0 { sign } else { -sign };
                            let step = if total(c) { -step } else { step };
                            step > 0.0 || values[c] > 0.0
                        });
                        if feasible {
                            for &c in &cycle {
                                free[c] = true;
                            }
                        }
                    }
                } else if next > start && !path.contains(&next) {
                    let mut longer = path.clone();
                    longer.push(next);
                    let mut more = cells.clone();
                    more.push(cell);
                    stack.push((longer, more));
                }
            }
        }
    }
    (0..withheld.len())
        .filter(|&i| withheld[i] && !free[i])
        .collect()
}
