//! Properties on random tables (seeded, so a failure names its seed): no withheld
//! cell can be recomputed from what is published, whatever the table, with or without
//! the knowledge that counts are never negative.

use bastide_sdc::secondary::{Cell, Shape, protect, recomputable};
use bastide_sdc::{Aggregate, Builder, Outcome, Rules, check};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::oracle::{determined_one_way, determined_two_way, fixed_two_way};

/// Cases per property.
const CASES: u64 = 400;

#[test]
fn no_withheld_cell_of_a_two_way_table_with_margins_can_be_recomputed() {
    for seed in 0..CASES {
        let mut rng = StdRng::seed_from_u64(seed);
        let (r, c) = (rng.gen_range(1..5), rng.gen_range(1..5));
        let mut builder = Builder::new(Aggregate::Count, true);
        for row in 0..r {
            for col in 0..c {
                // Many small cells, some empty, some large.
                let n = match rng.gen_range(0..4) {
                    0 => 0,
                    1 => rng.gen_range(1..10),
                    _ => rng.gen_range(10..60),
                };
                for _ in 0..n {
                    builder
                        .add(vec![format!("r{row}")], vec![format!("c{col}")], None, None)
                        .unwrap();
                }
            }
        }
        let Ok(table) = builder.build() else {
            continue;
        };
        let checked = check(&Rules::default(), &table).unwrap();
        let (rows, cols) = (checked.rows.len() + 1, checked.cols.len() + 1);
        let withheld: Vec<bool> = checked
            .cells
            .iter()
            .map(|cell| cell.outcome != Outcome::Published)
            .collect();
        let exposed = determined_two_way(rows, cols, &withheld);
        assert!(
            exposed.is_empty(),
            "seed {seed}: cells {exposed:?} of a {rows} × {cols} grid can be recomputed"
        );
        let values: Vec<f64> = checked
            .cells
            .iter()
            .map(|c| c.value.unwrap_or(0.0))
            .collect();
        let fixed = fixed_two_way(rows, cols, &withheld, &values);
        assert!(
            fixed.is_empty(),
            "seed {seed}: cells {fixed:?} of a {rows} × {cols} grid have one possible value"
        );
        for cell in &checked.cells {
            if !cell.fails.is_empty() {
                assert_ne!(cell.outcome, Outcome::Published, "seed {seed}");
            }
        }
    }
}

#[test]
fn no_withheld_cell_of_a_one_way_table_can_be_recomputed_from_its_total() {
    for seed in 0..CASES {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = rng.gen_range(1..12);
        let values: Vec<f64> = (0..n)
            .map(|_| {
                if rng.gen_bool(0.3) {
                    0.0
                } else {
                    rng.gen_range(1.0..50.0)
                }
            })
            .collect();
        let total: f64 = values.iter().sum();
        let mut cells: Vec<Cell> = values
            .iter()
            .chain([&total])
            .map(|&v| Cell {
                withheld: rng.gen_bool(0.25),
                movable: v > 0.0,
                cost: 1.0 + v,
            })
            .collect();
        protect(Shape::OneWay { cells: n + 1 }, &mut cells);
        let withheld: Vec<bool> = cells.iter().map(|c| c.withheld).collect();
        assert!(
            determined_one_way(&withheld).is_empty(),
            "seed {seed}: {withheld:?}"
        );
        // Knowing no cell is negative: each withheld cell moves with another, one of
        // the two losing what the other gains (or the total gaining with it).
        for e in (0..=n).filter(|&e| withheld[e]) {
            let moves = (0..=n)
                .filter(|&f| f != e && withheld[f])
                .any(|f| f == n || e == n || cells[e].movable || cells[f].movable);
            assert!(
                moves,
                "seed {seed}: cell {e} of {withheld:?} has one possible value"
            );
        }
    }
}

#[test]
fn the_graph_test_and_the_linear_algebra_agree_on_which_cells_are_exposed() {
    for seed in 0..CASES {
        let mut rng = StdRng::seed_from_u64(seed);
        let (rows, cols) = (rng.gen_range(2..6), rng.gen_range(2..6));
        let withheld: Vec<bool> = (0..rows * cols).map(|_| rng.gen_bool(0.3)).collect();
        // Cells that can all go down: only the equations bind them.
        let cells: Vec<Cell> = withheld
            .iter()
            .map(|&w| Cell {
                withheld: w,
                movable: true,
                cost: 1.0,
            })
            .collect();
        let mut by_graph = recomputable(Shape::TwoWay { rows, cols }, &cells);
        by_graph.sort_unstable();
        assert_eq!(
            by_graph,
            determined_two_way(rows, cols, &withheld),
            "seed {seed}: {withheld:?}"
        );
    }
}

#[test]
fn the_graph_test_and_the_cycle_enumeration_agree_when_zeros_cannot_go_down() {
    for seed in 0..CASES {
        let mut rng = StdRng::seed_from_u64(seed);
        let (rows, cols) = (rng.gen_range(2..5), rng.gen_range(2..5));
        let cells: Vec<Cell> = (0..rows * cols)
            .map(|_| Cell {
                withheld: rng.gen_bool(0.4),
                movable: rng.gen_bool(0.6),
                cost: 1.0,
            })
            .collect();
        let withheld: Vec<bool> = cells.iter().map(|c| c.withheld).collect();
        let values: Vec<f64> = cells
            .iter()
            .map(|c| if c.movable { 5.0 } else { 0.0 })
            .collect();
        let mut by_graph = recomputable(Shape::TwoWay { rows, cols }, &cells);
        by_graph.sort_unstable();
        assert_eq!(
            by_graph,
            fixed_two_way(rows, cols, &withheld, &values),
            "seed {seed}"
        );
    }
}
