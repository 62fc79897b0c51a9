//! Cell-key perturbation: a small noise on every published number, the same for the
//! same rows, independent between different ones (the method of the Australian Bureau
//! of Statistics' TableBuilder and of the 2021 census tables of the UK's Office for
//! National Statistics).
//!
//! Deterministic rules judge one answer, and a memory of earlier answers catches the
//! same cohort a few persons apart; neither can see a person isolated by combining
//! three or more answers (women 1935–1965, men 1940–1965, and both cohorts `OR` one
//! man: the third less the other two is that man's rows). With each cell moved by a
//! noise drawn from its own rows, such a combination is off by the sum of three
//! noises, which a researcher cannot know; asking the same cell again gives the same
//! noise, so repeating a question averages nothing away.
//!
//! The cell's key is a sum, over its records, of their person's key (a hash seeded with
//! the project's secret): the caller computes it as the rows are aggregated, and two
//! cells with the same persons and records have the same key.

/// Mixes a cell key into a uniform 64-bit number (SplitMix64's finaliser): keys that
/// are sums of a few hashes apart give unrelated noises.
fn mixed(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) drawn from `key`.
fn uniform(key: u64) -> f64 {
    (mixed(key) >> 11) as f64 / (1u64 << 53) as f64
}

/// The noise added to a published count whose cell key is `key`: −2 to +2, with
/// probabilities 10 %, 20 %, 40 %, 20 %, 10 % (mean 0, variance 1.2).
pub fn count_noise(key: u64) -> i64 {
    match uniform(key) {
        u if u < 0.1 => -2,
        u if u < 0.3 => -1,
        u if u < 0.7 => 0,
        u if u < 0.9 => 1,
        _ => 2,
    }
}

/// The noise added to a published sum whose cell key is `key` and whose largest
/// contribution of one person is `largest`: uniform within ± half of it, so that a
/// person's share (at most the largest) cannot be read from differences of a few
/// sums. A mean moves by this divided by its records.
pub fn magnitude_noise(key: u64, largest: f64) -> f64 {
    if !largest.is_finite() {
        return 0.0;
    }
    (uniform(key ^ 0x5bd1_e995) - 0.5) * largest.abs()
}

/// `count` with its noise, never below zero.
pub fn perturbed_count(count: i64, key: u64) -> i64 {
    count.saturating_add(count_noise(key)).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_move_by_at_most_two_in_the_stated_proportions() {
        let mut seen = [0usize; 5];
        for key in 0..100_000u64 {
            let noise = count_noise(key.wrapping_mul(0x2545_f491_4f6c_dd1d));
            seen[(noise + 2) as usize] += 1;
        }
        let share = |i: usize| seen[i] as f64 / 100_000.0;
        for (i, expected) in [0.1, 0.2, 0.4, 0.2, 0.1].into_iter().enumerate() {
            assert!((share(i) - expected).abs() < 0.01, "{seen:?}");
        }
    }

    #[test]
    fn the_same_key_gives_the_same_noise_and_near_keys_unrelated_ones() {
        assert_eq!(count_noise(42), count_noise(42));
        assert_eq!(magnitude_noise(42, 10.0), magnitude_noise(42, 10.0));
        // Keys one person's hash apart: their noises agree about as often as chance.
        let agree = (0..10_000u64)
            .filter(|&k| count_noise(k * 7919) == count_noise(k * 7919 + 12_345))
            .count();
        assert!((2_400..3_000).contains(&agree), "{agree}");
    }

    #[test]
    fn a_sum_moves_within_half_its_largest_contribution_and_counts_stay_positive() {
        for key in 0..10_000u64 {
            let noise = magnitude_noise(key, 80.0);
            assert!(noise.abs() <= 40.0, "{noise}");
        }
        assert_eq!(magnitude_noise(1, f64::NAN), 0.0);
        assert!((0..1_000u64).all(|k| perturbed_count(1, k) >= 0));
    }
}
