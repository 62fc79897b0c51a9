//! Statistical disclosure control: the rules a table passes before it may leave a
//! secure processing environment. Pure (no I/O): the hub's answers, the release
//! airlock and `bastide sdc check` call the same engine.
//!
//! A table is a grid of cells, each with the number of distinct persons behind it and,
//! for magnitude tables (sums and means of costs, durations), each person's
//! contribution. [`check`] gives every cell its outcome:
//! - **primary suppression** by the rules of [`Rules`]: too few persons (`threshold`),
//!   a group with no one (`zeros`), a total that its largest contributors dominate
//!   (`dominance`, the (n, k) rule), or that the second largest contributor could use to
//!   estimate the largest too closely (`p-percent`), negative contributions (the
//!   dominance rules are not defined for them), missing values (when configured);
//! - **secondary suppression** ([`secondary`]): more cells are suppressed until no
//!   suppressed cell can be recomputed from what is published, the totals included;
//! - optional **rounding** of published counts, and optional cell-key noise on
//!   published aggregates ([`perturb`]).
//!
//! Tables are built from person-level records with [`Builder`] (one record per
//! contribution, with the person it belongs to), which also computes the totals.

mod build;
mod cell;
mod error;
mod noise;
pub mod perturb;
mod rules;
pub mod secondary;
mod table;

pub use build::{Builder, Label};
pub use cell::{Aggregate, CellData, Facts, Largest, Outcome, Rule, judge};
pub use error::{Error, Result};
pub use noise::{NoisyCount, noisy_count};
pub use rules::{Rules, Tightening};
pub use table::{Checked, CheckedCell, Table, check};
