//! Disclosure control, from records to published tables: known answers, and
//! properties checked on many random tables against an independent oracle.

mod oracle;
mod properties;

use bastide_sdc::{Aggregate, Builder, Outcome, Rule, Rules, check};

fn label(text: &str) -> Vec<String> {
    vec![text.to_owned()]
}

#[test]
fn a_person_with_two_records_counts_once_and_their_contributions_add_up() {
    let mut builder = Builder::new(Aggregate::Sum, false);
    for i in 0..12 {
        let person = format!("p{i}");
        builder
            .add(label("A"), vec![], Some(&person), Some(10.0))
            .unwrap();
    }
    // p0 has a second stay: one person, 20 in all.
    builder
        .add(label("A"), vec![], Some("p0"), Some(10.0))
        .unwrap();
    let checked = check(&Rules::default(), &builder.build().unwrap()).unwrap();
    let a = &checked.cells[0];
    assert_eq!((a.records, a.persons, a.value), (13, 12, Some(130.0)));
    assert_eq!(a.outcome, Outcome::Published);
}

#[test]
fn a_small_cell_of_a_one_way_table_is_suppressed_with_a_complement_and_the_total_stays() {
    let mut builder = Builder::new(Aggregate::Count, false);
    for (group, n) in [("A", 30), ("B", 3), ("C", 12), ("D", 40)] {
        for _ in 0..n {
            builder.add(label(group), vec![], None, None).unwrap();
        }
    }
    let checked = check(&Rules::default(), &builder.build().unwrap()).unwrap();
    let outcomes: Vec<(Outcome, Vec<Rule>)> = checked
        .cells
        .iter()
        .map(|c| (c.outcome, c.fails.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Outcome::Published, vec![]),
            (Outcome::Suppressed, vec![Rule::Threshold]),
            (Outcome::Secondary, vec![]),
            (Outcome::Published, vec![]),
            (Outcome::Published, vec![]),
        ],
        "C, the smallest other cell, protects B; the total (85) is published"
    );
    assert_eq!(checked.cells[4].published, Some(85.0));
}

#[test]
fn rounding_publishes_counts_as_multiples_of_the_base() {
    let mut builder = Builder::new(Aggregate::Count, false);
    for (group, n) in [("A", 12), ("B", 18)] {
        for _ in 0..n {
            builder.add(label(group), vec![], None, None).unwrap();
        }
    }
    let rules = Rules {
        round_to: Some(5),
        ..Rules::default()
    };
    let checked = check(&rules, &builder.build().unwrap()).unwrap();
    let shown: Vec<Option<f64>> = checked.cells.iter().map(|c| c.published).collect();
    assert_eq!(shown, [Some(10.0), Some(20.0), Some(30.0)]);
}

#[test]
fn empty_tables_and_values_that_are_not_numbers_are_refused() {
    let empty = Builder::new(Aggregate::Count, true);
    assert_eq!(empty.build(), Err(bastide_sdc::Error::Empty));
    let mut builder = Builder::new(Aggregate::Sum, false);
    builder.add(label("A"), vec![], None, Some(1.0)).unwrap();
    let refused = builder.add(label("A"), vec![], None, Some(f64::NAN));
    let Err(bastide_sdc::Error::NotFinite { place }) = refused else {
        panic!("{refused:?}");
    };
    assert_eq!(place, "record 2");
}

#[test]
fn a_two_way_table_whose_groups_are_one_person_each_is_withheld_whole_but_its_total() {
    // Twelve people, each in a group of their own: every inner cell and margin is
    // under the threshold; only the grand total (12 persons) may stay.
    let mut builder = Builder::new(Aggregate::Count, true);
    for i in 0..12 {
        builder
            .add(label(&format!("r{i}")), label(&format!("c{i}")), None, None)
            .unwrap();
    }
    let checked = check(&Rules::default(), &builder.build().unwrap()).unwrap();
    let published: Vec<_> = checked
        .cells
        .iter()
        .filter(|c| c.outcome == Outcome::Published)
        .collect();
    assert_eq!(published.len(), 1);
    assert!(published[0].row.is_none() && published[0].col.is_none());
}

#[test]
fn labels_mixing_numbers_and_text_are_ordered_numbers_first_whatever_their_order() {
    // Ages 0 to 24 beside age bands ("0-4", "5-9", …): sorting them once panicked.
    let mut builder = Builder::new(Aggregate::Count, false);
    for i in (0..25).rev() {
        builder
            .add(label(&i.to_string()), vec![], None, None)
            .unwrap();
        builder
            .add(
                label(&format!("{}-{}", i * 5, i * 5 + 4)),
                vec![],
                None,
                None,
            )
            .unwrap();
    }
    let table = builder.build().unwrap();
    let checked = check(&Rules::default(), &table).unwrap();
    let first: Vec<&str> = checked.rows.iter().take(3).map(|l| l[0].as_str()).collect();
    assert_eq!(first, ["0", "1", "2"]);
    assert_eq!(checked.rows[25][0], "0-4");
}

#[test]
fn one_person_s_many_records_dominate_a_count_when_records_name_their_persons() {
    let mut builder = Builder::new(Aggregate::Count, false);
    for i in 0..11 {
        builder
            .add(label("A"), vec![], Some(&format!("p{i}")), None)
            .unwrap();
    }
    for _ in 0..200 {
        builder.add(label("A"), vec![], Some("p0"), None).unwrap();
    }
    let checked = check(&Rules::default(), &builder.build().unwrap()).unwrap();
    assert!(
        checked.cells[0].fails.contains(&Rule::Dominance),
        "{:?}",
        checked.cells[0]
    );
}
