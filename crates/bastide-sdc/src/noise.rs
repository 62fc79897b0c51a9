//! Counts for people without a permit (feasibility counts), protected by differential
//! privacy: OpenDP's discrete Laplace mechanism adds integer noise of scale
//! 1 / epsilon to a count of distinct persons (one person more or less changes it by
//! at most one), and OpenDP's privacy map certifies the epsilon spent. The noisy count
//! is then rounded and floored at zero, which spends nothing more (post-processing).

use opendp::domains::AtomDomain;
use opendp::measurements::make_laplace;
use opendp::measures::MaxDivergence;
use opendp::metrics::AbsoluteDistance;
use serde::Serialize;

use crate::{Error, Result};

/// A count as it may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NoisyCount {
    /// The noisy count, rounded to `rounded_to` and never below zero.
    pub value: u64,
    /// The base it was rounded to.
    pub rounded_to: u64,
    /// The privacy loss OpenDP certifies for it (for persons added or removed).
    pub epsilon: f64,
}

/// `exact` with discrete Laplace noise of scale 1 / `epsilon`, rounded to a multiple
/// of `round_to` (1: not rounded).
pub fn noisy_count(exact: u64, epsilon: f64, round_to: u64) -> Result<NoisyCount> {
    if !(epsilon.is_finite() && epsilon > 0.0 && epsilon <= 10.0) {
        return Err(Error::Rule {
            field: "epsilon",
            problem: "a privacy loss per count between 0 and 10 (typically 0.1 to 1)".into(),
        });
    }
    if round_to == 0 {
        return Err(Error::Rule {
            field: "round_to",
            problem: "round to a base of 1 or more".into(),
        });
    }
    let opendp = |e: opendp::error::Error| Error::Rule {
        field: "epsilon",
        problem: format!("the noise mechanism refused it: {e}"),
    };
    let exact = i64::try_from(exact).map_err(|_| Error::Rule {
        field: "count",
        problem: "a count too large to add noise to".into(),
    })?;
    let mechanism = make_laplace::<_, _, MaxDivergence>(
        AtomDomain::<i64>::default(),
        AbsoluteDistance::<i64>::default(),
        1.0 / epsilon,
        None,
    )
    .map_err(opendp)?;
    let spent = mechanism.map(&1).map_err(opendp)?;
    let noisy = mechanism.invoke(&exact).map_err(opendp)?;
    let base = round_to as i64;
    let rounded = (noisy.max(0) + base / 2) / base * base;
    Ok(NoisyCount {
        value: rounded as u64,
        rounded_to: round_to,
        epsilon: spent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epsilon_spent_is_the_one_asked_and_counts_stay_near_the_truth() {
        let mut total = 0i64;
        for _ in 0..200 {
            let noisy = noisy_count(1000, 0.5, 1).unwrap();
            assert!((noisy.epsilon - 0.5).abs() < 1e-9, "{noisy:?}");
            total += noisy.value as i64 - 1000;
        }
        // Scale 2: the mean of 200 draws is within a few units of the truth.
        assert!((total as f64 / 200.0).abs() < 2.0, "{total}");
    }

    #[test]
    fn counts_are_rounded_floored_at_zero_and_noisy() {
        let draws: Vec<u64> = (0..50)
            .map(|_| noisy_count(0, 1.0, 10).unwrap().value)
            .collect();
        assert!(draws.iter().all(|v| v % 10 == 0));
        let varied: Vec<u64> = (0..50)
            .map(|_| noisy_count(500, 0.1, 1).unwrap().value)
            .collect();
        assert!(varied.iter().any(|v| *v != 500), "noise is added");
    }

    #[test]
    fn a_privacy_loss_out_of_range_is_refused() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 11.0] {
            assert!(noisy_count(10, bad, 10).is_err(), "{bad}");
        }
        assert!(noisy_count(10, 0.5, 0).is_err());
    }
}
