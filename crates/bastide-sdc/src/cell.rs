//! One cell of a table and the primary rules it is judged by.

use serde::{Deserialize, Serialize};

use crate::Rules;

/// What a table's cells hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// How many records (a frequency table).
    Count,
    /// The sum of a value (a magnitude table).
    Sum,
    /// The mean of a value (a magnitude table: its sum is as disclosive).
    Mean,
}

impl Aggregate {
    /// Whether the dominance rules apply: a value is summed.
    pub fn is_magnitude(self) -> bool {
        !matches!(self, Self::Count)
    }
}

/// What is behind one cell.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CellData {
    /// Records (rows, contributions) in the cell.
    pub records: u64,
    /// Distinct persons behind them.
    pub persons: u64,
    /// The value a table shows: the count, sum or mean; none for a cell without
    /// records or values.
    pub value: Option<f64>,
    /// Each person's contribution to the sum, for magnitude tables (any order).
    pub contributions: Vec<f64>,
    /// Whether a value of a record in the cell is missing.
    pub missing: bool,
}

/// A rule a cell fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Fewer persons than the minimum.
    Threshold,
    /// No one in the group, when zeros are disclosive.
    Zeros,
    /// The `n` largest contributors make `k` or more of the total.
    Dominance,
    /// The total less the two largest contributions is under `p` times the largest.
    PPercent,
    /// A contribution is negative: the dominance rules are not defined.
    Negative,
    /// A value is missing, when missing values are disclosive.
    Missing,
    /// An aggregate the rules cannot judge: a minimum, a maximum, a median or a
    /// percentile is one person's value, whatever the group's size.
    Unchecked,
    /// Another published cell over other rows of the same group differs from it by
    /// fewer persons than the minimum: their difference would show that small group.
    Differencing,
}

impl Rule {
    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Threshold => "threshold",
            Self::Zeros => "zeros",
            Self::Dominance => "dominance",
            Self::PPercent => "p-percent",
            Self::Negative => "negative",
            Self::Missing => "missing",
            Self::Unchecked => "unchecked",
            Self::Differencing => "differencing",
        }
    }
}

/// What becomes of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Shown (rounded when the rules round).
    Published,
    /// Withheld: it fails a rule.
    Suppressed,
    /// Withheld to protect another suppressed cell from being recomputed.
    Secondary,
}

/// What the dominance rules need of a cell's contributions: the largest ones, their
/// total and whether any is negative. A cell of a query's answer is summarised where
/// it is computed, without keeping every person's contribution.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Largest {
    /// The largest contributions, largest first: at least [`Rules::largest_kept`] of
    /// them when there are that many.
    pub top: Vec<f64>,
    /// The sum of every contribution.
    pub total: f64,
    /// How many contributions there are.
    pub count: u64,
    /// Whether a contribution is negative.
    pub negative: bool,
}

impl Largest {
    /// The summary of `contributions` keeping the `keep` largest.
    pub fn of(contributions: &[f64], keep: usize) -> Self {
        let mut top = contributions.to_vec();
        top.sort_by(|a, b| b.total_cmp(a));
        top.truncate(keep);
        Self {
            top,
            total: contributions.iter().sum(),
            count: contributions.len() as u64,
            negative: contributions.iter().any(|c| *c < 0.0),
        }
    }
}

/// What the primary rules judge of one cell.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    /// Records behind it.
    pub records: u64,
    /// Distinct persons behind them.
    pub persons: u64,
    /// Whether a value of a record in it is missing.
    pub missing: bool,
    /// Its contributions per person, when known (magnitude tables, and counts whose
    /// records name their persons).
    pub contributions: Option<Largest>,
}

/// The rules `cell` fails, in a table of `aggregate`s.
pub(crate) fn primary(rules: &Rules, aggregate: Aggregate, cell: &CellData) -> Vec<Rule> {
    let facts = Facts {
        records: cell.records,
        persons: cell.persons,
        missing: cell.missing,
        contributions: (!cell.contributions.is_empty())
            .then(|| Largest::of(&cell.contributions, rules.largest_kept())),
    };
    judge(rules, aggregate, &facts)
}

/// The primary rules a cell with `facts` fails, in a table of `aggregate`s.
pub fn judge(rules: &Rules, aggregate: Aggregate, facts: &Facts) -> Vec<Rule> {
    let mut fails = Vec::new();
    if facts.persons == 0 {
        // Records without a known person (a missing identifier) are no one's to
        // count: too few persons, not an empty group.
        if facts.records > 0 {
            fails.push(Rule::Threshold);
        } else if rules.zeros_disclosive {
            fails.push(Rule::Zeros);
        }
        return fails;
    }
    if facts.persons < rules.min_persons {
        fails.push(Rule::Threshold);
    }
    if rules.missing_disclosive && facts.missing {
        fails.push(Rule::Missing);
    }
    // A sum's contributions; or a count's records per named person, when the count
    // has persons enough (one person's hundred stays), the threshold judging the rest.
    if let Some(largest) = &facts.contributions
        && (aggregate.is_magnitude() || facts.persons >= rules.min_persons)
    {
        fails.extend(dominance(rules, largest));
    }
    fails
}

/// The dominance rules on the contributions of one cell.
fn dominance(rules: &Rules, largest: &Largest) -> Vec<Rule> {
    if largest.negative {
        return vec![Rule::Negative];
    }
    let total = largest.total;
    let mut fails = Vec::new();
    if total > 0.0 {
        let top: f64 = largest.top.iter().take(rules.dominance_n).sum();
        if top >= rules.dominance_k * total {
            fails.push(Rule::Dominance);
        }
    }
    let first = largest.top.first().copied().unwrap_or(0.0);
    let second = largest.top.get(1).copied().unwrap_or(0.0);
    let rest = total - first - second;
    // Every contribution zero: the total tells each of them exactly.
    let revealed = first == 0.0 && largest.count > 0;
    if revealed || rest < rules.p_percent * first {
        fails.push(Rule::PPercent);
    }
    fails
}

#[cfg(test)]
mod tests {
    use super::*;

    fn magnitude(contributions: &[f64]) -> CellData {
        CellData {
            records: contributions.len() as u64,
            persons: contributions.len() as u64,
            value: Some(contributions.iter().sum()),
            contributions: contributions.to_vec(),
            missing: false,
        }
    }

    fn count(persons: u64) -> CellData {
        CellData {
            records: persons,
            persons,
            value: Some(persons as f64),
            ..CellData::default()
        }
    }

    #[test]
    fn a_count_under_the_minimum_fails_the_threshold_and_the_minimum_itself_passes() {
        let rules = Rules::default();
        assert_eq!(
            primary(&rules, Aggregate::Count, &count(9)),
            [Rule::Threshold]
        );
        assert!(primary(&rules, Aggregate::Count, &count(10)).is_empty());
        assert_eq!(primary(&rules, Aggregate::Count, &count(0)), [Rule::Zeros]);
        let zeros_allowed = Rules {
            zeros_disclosive: false,
            ..Rules::default()
        };
        assert!(primary(&zeros_allowed, Aggregate::Count, &count(0)).is_empty());
    }

    #[test]
    fn dominance_and_p_percent_known_answers() {
        let rules = Rules::default();
        let check = |c: &[f64]| primary(&rules, Aggregate::Sum, &magnitude(c));
        // Ten even contributions: nothing dominates.
        assert!(check(&[10.0; 10]).is_empty());
        // Two make 91 % of the total: (2, 90 %) fails; 9 left of 80 is over 10 %.
        let mut skewed = vec![1.0; 9];
        skewed.extend([80.0, 11.0]);
        assert_eq!(check(&skewed), [Rule::Dominance]);
        // Two make exactly 90 %: dominance, as ACRO decides (>= k).
        let mut even = vec![1.0; 10];
        even.extend([45.0, 45.0]);
        assert_eq!(check(&even), [Rule::Dominance]);
        // One person far above the rest: the second could estimate them within p %.
        let mut one = vec![0.5; 8];
        one.extend([1000.0, 30.0]);
        assert_eq!(check(&one), [Rule::Dominance, Rule::PPercent]);
        // p %: rest 9.9 of largest 100 fails (< 10), rest 10 of 100 passes (strict).
        // With the default k, a p % failure is always a dominance failure too: a
        // looser k shows the p % rule alone.
        let loose = Rules {
            dominance_k: 0.99,
            ..Rules::default()
        };
        let p_only = |c: &[f64]| primary(&loose, Aggregate::Sum, &magnitude(c));
        let mut under = vec![1.1; 9];
        under.extend([100.0, 100.0]);
        assert_eq!(p_only(&under), [Rule::PPercent]);
        let mut at = vec![1.0; 10];
        at.extend([100.0, 100.0]);
        assert!(p_only(&at).is_empty(), "{:?}", p_only(&at));
        // Every contribution zero: the sum tells each of them.
        assert_eq!(check(&[0.0; 12]), [Rule::PPercent]);
        // A negative contribution: the dominance rules are not defined.
        let mut refund = vec![10.0; 11];
        refund.push(-3.0);
        assert_eq!(check(&refund), [Rule::Negative]);
    }

    #[test]
    fn a_missing_value_fails_only_when_missing_values_are_disclosive() {
        let mut cell = count(12);
        cell.missing = true;
        assert!(primary(&Rules::default(), Aggregate::Count, &cell).is_empty());
        let strict = Rules {
            missing_disclosive: true,
            ..Rules::default()
        };
        assert_eq!(primary(&strict, Aggregate::Count, &cell), [Rule::Missing]);
    }
}
