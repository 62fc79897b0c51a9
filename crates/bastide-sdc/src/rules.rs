//! The thresholds of the rules. A hub sets them once (`[disclosure]` in its
//! configuration) and may tighten them per dataset; the defaults are those of the
//! usual guidance for secure processing environments (minimum 10 persons, dominance
//! (2, 90 %), p = 10 %, zeros disclosive).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What a cell must satisfy to be published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Fewest distinct persons behind a published cell.
    pub min_persons: u64,
    /// Whether a group with no one in it is disclosive: it says that none of the
    /// group has the attribute (a zero count, an empty cell).
    pub zeros_disclosive: bool,
    /// The `n` of the dominance rule: how many of the largest contributors.
    pub dominance_n: usize,
    /// The `k` of the dominance rule, a fraction: a magnitude cell whose `n` largest
    /// contributors make this share of its total or more is suppressed.
    pub dominance_k: f64,
    /// The `p` of the p% rule, a fraction: a magnitude cell is suppressed when its
    /// total less its two largest contributions is under `p` times the largest (the
    /// second largest contributor could estimate the largest within p %).
    pub p_percent: f64,
    /// Whether a cell in which a value is missing is suppressed. When not, missing
    /// values are left out of sums and means (and counted as records).
    pub missing_disclosive: bool,
    /// Round published counts to a multiple of this base (5 is usual); none when
    /// unset.
    pub round_to: Option<u32>,
    /// Whether published aggregates of an aggregate-only workspace carry cell-key
    /// noise ([`crate::perturb`]): counts moved by −2 to +2, sums by at most half
    /// their largest contribution, the same for the same rows. It defeats
    /// combinations of three or more answers that no deterministic rule sees, at the
    /// price of answers that are no longer exact.
    pub perturb: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            min_persons: 10,
            zeros_disclosive: true,
            dominance_n: 2,
            dominance_k: 0.9,
            p_percent: 0.1,
            missing_disclosive: false,
            round_to: None,
            perturb: false,
        }
    }
}

impl Rules {
    /// How many of a cell's largest contributions the dominance rules look at.
    pub fn largest_kept(&self) -> usize {
        self.dominance_n.max(2)
    }

    /// Checks that every threshold is in its range.
    pub fn validate(&self) -> Result<()> {
        let refuse = |field, problem: &str| {
            Err(Error::Rule {
                field,
                problem: problem.to_owned(),
            })
        };
        if self.min_persons == 0 {
            return refuse("min_persons", "must be at least 1 (10 is usual)");
        }
        if self.dominance_n == 0 {
            return refuse("dominance_n", "must be at least 1 (2 is usual)");
        }
        if !(self.dominance_k > 0.0 && self.dominance_k <= 1.0) {
            return refuse(
                "dominance_k",
                "must be a fraction above 0 and at most 1 (0.9 for 90 %)",
            );
        }
        if !(0.0..1.0).contains(&self.p_percent) {
            return refuse(
                "p_percent",
                "must be a fraction from 0 to below 1 (0.1 for 10 %)",
            );
        }
        if self.round_to.is_some_and(|base| base < 2) {
            return refuse("round_to", "must be at least 2 (5 is usual), or unset");
        }
        Ok(())
    }

    /// These rules, made stricter where `other` is stricter: a dataset's thresholds
    /// never loosen the hub's.
    pub fn strictest(&self, other: &Self) -> Self {
        Self {
            min_persons: self.min_persons.max(other.min_persons),
            zeros_disclosive: self.zeros_disclosive || other.zeros_disclosive,
            // More contributors counted against the same share flags more cells.
            dominance_n: self.dominance_n.max(other.dominance_n),
            dominance_k: self.dominance_k.min(other.dominance_k),
            p_percent: self.p_percent.max(other.p_percent),
            missing_disclosive: self.missing_disclosive || other.missing_disclosive,
            round_to: match (self.round_to, other.round_to) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            perturb: self.perturb || other.perturb,
        }
    }
}

/// A dataset's own thresholds, each one unset or stricter than the hub's (a looser
/// one is ignored: a dataset never loosens the hub's rules).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tightening {
    /// See [`Rules::min_persons`].
    pub min_persons: Option<u64>,
    /// See [`Rules::zeros_disclosive`].
    pub zeros_disclosive: Option<bool>,
    /// See [`Rules::dominance_n`].
    pub dominance_n: Option<usize>,
    /// See [`Rules::dominance_k`].
    pub dominance_k: Option<f64>,
    /// See [`Rules::p_percent`].
    pub p_percent: Option<f64>,
    /// See [`Rules::missing_disclosive`].
    pub missing_disclosive: Option<bool>,
    /// See [`Rules::round_to`].
    pub round_to: Option<u32>,
    /// See [`Rules::perturb`].
    pub perturb: Option<bool>,
}

impl Tightening {
    /// The hub's `rules`, tightened by this dataset's.
    pub fn apply(&self, rules: &Rules) -> Rules {
        let own = Rules {
            min_persons: self.min_persons.unwrap_or(rules.min_persons),
            zeros_disclosive: self.zeros_disclosive.unwrap_or(rules.zeros_disclosive),
            dominance_n: self.dominance_n.unwrap_or(rules.dominance_n),
            dominance_k: self.dominance_k.unwrap_or(rules.dominance_k),
            p_percent: self.p_percent.unwrap_or(rules.p_percent),
            missing_disclosive: self.missing_disclosive.unwrap_or(rules.missing_disclosive),
            round_to: self.round_to.or(rules.round_to),
            perturb: self.perturb.unwrap_or(rules.perturb),
        };
        rules.strictest(&own)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_out_of_range_thresholds_are_named() {
        assert!(Rules::default().validate().is_ok());
        for (rules, field) in [
            (
                Rules {
                    min_persons: 0,
                    ..Rules::default()
                },
                "min_persons",
            ),
            (
                Rules {
                    dominance_k: 1.5,
                    ..Rules::default()
                },
                "dominance_k",
            ),
            (
                Rules {
                    dominance_k: f64::NAN,
                    ..Rules::default()
                },
                "dominance_k",
            ),
            (
                Rules {
                    p_percent: -0.1,
                    ..Rules::default()
                },
                "p_percent",
            ),
            (
                Rules {
                    round_to: Some(1),
                    ..Rules::default()
                },
                "round_to",
            ),
        ] {
            let Err(Error::Rule { field: named, .. }) = rules.validate() else {
                panic!("{field} should be refused");
            };
            assert_eq!(named, field);
        }
    }

    #[test]
    fn a_dataset_tightening_keeps_the_hub_rules_it_does_not_name() {
        let hub = Rules {
            min_persons: 5,
            ..Rules::default()
        };
        let dataset = Tightening {
            round_to: Some(5),
            ..Tightening::default()
        };
        let rules = dataset.apply(&hub);
        assert_eq!((rules.min_persons, rules.round_to), (5, Some(5)));
        let looser = Tightening {
            min_persons: Some(3),
            ..Tightening::default()
        };
        assert_eq!(looser.apply(&hub).min_persons, 5);
    }

    #[test]
    fn a_dataset_can_tighten_the_hub_rules_but_never_loosen_them() {
        let hub = Rules::default();
        let loose = Rules {
            min_persons: 3,
            zeros_disclosive: false,
            dominance_k: 0.99,
            ..Rules::default()
        };
        assert_eq!(hub.strictest(&loose), hub);
        let tight = Rules {
            min_persons: 20,
            round_to: Some(5),
            ..Rules::default()
        };
        assert_eq!(hub.strictest(&tight), tight);
    }
}
