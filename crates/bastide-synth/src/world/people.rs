//! One person's life over the period: who they are (age from the French pyramid, sex,
//! residence, chronic conditions, a death drawn from age-specific mortality) and the
//! care they receive: consultations, drugs dispensed (monthly for chronic treatments,
//! antibiotics mostly in winter), hospital stays (more with age, and often just before
//! death), and a death certificate after the death.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::fields::Event;
use super::reference::{
    ANTIBIOTICS, ASSOCIATED, CAUSES, DIAGNOSES, DRUGS, PYRAMID, SEASON, SYMPTOMATIC, chronic,
};
use super::{Out, Table, World};

/// Insulin on top of metformin (a diabetic's treatment).
const INSULIN: u8 = 32;
/// An inhaled corticosteroid on top of salbutamol (an asthmatic's treatment).
const CONTROLLER: u8 = 64;

/// A person's three identifiers, as a producer sends them (pseudonymised at ingestion).
#[derive(Debug)]
pub(crate) struct Ids {
    pub psa: [u8; 17],
    pub nir_ano: [u8; 17],
    pub idt_ano: [u8; 17],
}

/// A beneficiary.
#[derive(Debug)]
pub(crate) struct Person {
    pub ids: Ids,
    pub sex: u8,
    pub birth: NaiveDate,
    pub dept: usize,
    pub commune: [u8; 3],
    pub post_code: [u8; 5],
    pub fund: [u8; 9],
    pub death: Option<NaiveDate>,
    pub chronic: u8,
    pub registered: NaiveDate,
}

/// Per block, numbers that must not repeat: claims' document numbers and stays.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// The block of beneficiaries being generated.
    pub block: u64,
    doc: u64,
    stay: i64,
}

impl Counters {
    /// Fresh counters for `block`.
    pub fn new(block: u64) -> Self {
        Self {
            block,
            ..Self::default()
        }
    }
}

/// Draws person `index` and writes every row of their life to `out`.
pub(crate) fn live(
    world: &World,
    index: u64,
    rng: &mut ChaCha8Rng,
    out: &mut Out<'_>,
    n: &mut Counters,
) {
    let person = draw(world, index, rng);
    out.emit(Table::Beneficiaries, &person, &Event::default());
    let mut cancer = false;
    let mut died_in_hospital = false;
    for year in world.first..=world.last {
        let jan1 = ymd(year, 1, 1);
        if person.death.is_some_and(|d| d < jan1) {
            break;
        }
        let age = age_on(person.birth, jan1);
        let conditions = f64::from((person.chronic & 31).count_ones());
        let alive =
            |day: NaiveDate| person.death.is_none_or(|d| day <= d) && day <= world.period_end;

        for _ in 0..poisson(rng, 2.0 + age as f64 / 25.0 + 1.5 * conditions) {
            let day = seasonal_day(year, rng);
            if alive(day) {
                consultation(&person, day, 1, rng, out, n);
                if rng.gen_bool(0.45) {
                    let day = day + Duration::days(rng.gen_range(0..2));
                    if alive(day) {
                        acute_drugs(&person, day, rng, out, n);
                    }
                }
            }
        }
        for _ in 0..poisson(rng, 0.5 + 0.4 * conditions) {
            let day = seasonal_day(year, rng);
            if alive(day) {
                let speciality = if age < 16 {
                    12
                } else {
                    [3, 5, 7, 8, 13, 14, 15][rng.gen_range(0..7)]
                };
                consultation(&person, day, speciality, rng, out, n);
            }
        }
        if person.chronic != 0 {
            for month in 1..=12 {
                let day = ymd(year, month, rng.gen_range(1..=28));
                if rng.gen_bool(0.9) && alive(day) {
                    chronic_drugs(&person, day, rng, out, n);
                }
            }
        }
        let death = person.death.filter(|d| d.year() == year);
        let stays = if rng.gen_bool((0.04 + 0.0025 * age as f64).min(0.5)) {
            1 + u32::from(rng.gen_bool(0.2))
        } else {
            0
        };
        for _ in 0..stays {
            let day = seasonal_day(year, rng);
            let (event, has_cancer) = stay(&person, day, None, rng, n);
            if alive(event.end.date()) {
                cancer |= has_cancer;
                out.emit(Table::StaysB, &person, &event);
                out.emit(Table::StaysC, &person, &event);
            }
        }
        // Most deaths follow a stay; many happen in hospital.
        if let Some(death) = death
            && rng.gen_bool(0.6)
        {
            let in_hospital = rng.gen_bool(0.6);
            let end = if in_hospital {
                death
            } else {
                death - Duration::days(rng.gen_range(1..=30))
            };
            let (event, has_cancer) = stay(&person, end, Some(in_hospital), rng, n);
            if event.start.date() >= person.birth {
                cancer |= has_cancer;
                died_in_hospital = in_hospital;
                out.emit(Table::StaysB, &person, &event);
                out.emit(Table::StaysC, &person, &event);
            }
        }
    }
    if let Some(death) = person.death {
        certificate(&person, death, cancer, died_in_hospital, rng, out);
    }
}

fn draw(world: &World, index: u64, rng: &mut ChaCha8Rng) -> Person {
    let start = world.period_start;
    let band = weighted(rng, &PYRAMID);
    let age_days = (band as i64 * 5 * 365) + rng.gen_range(0..5 * 365);
    let birth = start - Duration::days(age_days.max(1));
    let age = age_on(birth, start);
    let female = rng.gen_bool(if age >= 80 { 0.63 } else { 0.51 });
    let chronic = conditions(age, female, rng);
    let mut death = None;
    for year in world.first..=world.last {
        let age = age_on(birth, ymd(year, 1, 1)) as f64;
        let hazard = ((-10.8 + 0.094 * age).exp() * if female { 1.0 } else { 1.5 }).min(0.6);
        if rng.gen_bool(hazard) {
            let day = ymd(year, 1, 1) + Duration::days(rng.gen_range(0..365));
            death = Some(day.max(birth + Duration::days(1)).min(world.period_end));
            break;
        }
    }
    let dept = rng.gen_range(0..world.depts.len());
    let commune = rng.gen_range(1..400u32);
    let mut commune_text = [0; 3];
    commune_text.copy_from_slice(format!("{commune:03}").as_bytes());
    let dept_code = world.depts[dept].as_bytes();
    let postal = if dept_code[0] == b'0' {
        &dept_code[1..]
    } else {
        &dept_code[..2]
    };
    let mut post_code = [0; 5];
    post_code
        .copy_from_slice(format!("{}{commune:03}", String::from_utf8_lossy(postal)).as_bytes());
    let mut fund = [0; 9];
    fund.copy_from_slice(format!("01C{:06}", 731_000 + dept).as_bytes());
    Person {
        ids: Ids {
            psa: world.identifier(0, index),
            nir_ano: world.identifier(1, index),
            idt_ano: world.identifier(2, index),
        },
        sex: if female { 2 } else { 1 },
        birth,
        dept,
        commune: commune_text,
        post_code,
        fund,
        death,
        chronic,
        registered: birth.max(ymd(1996, 1, 1)) + Duration::days(rng.gen_range(0..60)),
    }
}

/// Chronic conditions by age (prevalences of the French population, roughly).
fn conditions(age: i64, female: bool, rng: &mut ChaCha8Rng) -> u8 {
    let band = match age {
        ..40 => 0,
        40..60 => 1,
        60..75 => 2,
        _ => 3,
    };
    let mut set = 0;
    let mut has = |p: [f64; 4], bit: u8, set: &mut u8| {
        if rng.gen_bool(p[band]) {
            *set |= bit;
        }
    };
    has([0.005, 0.05, 0.13, 0.16], chronic::DIABETES, &mut set);
    has([0.02, 0.15, 0.35, 0.5], chronic::HYPERTENSION, &mut set);
    has([0.01, 0.08, 0.22, 0.25], chronic::CHOLESTEROL, &mut set);
    let thyroid = if female { 0.05 } else { 0.01 };
    has(
        [thyroid * 0.3, thyroid, thyroid, thyroid],
        chronic::THYROID,
        &mut set,
    );
    has([0.05, 0.04, 0.04, 0.03], chronic::ASTHMA, &mut set);
    if set & chronic::DIABETES != 0 && rng.gen_bool(0.25) {
        set |= INSULIN;
    }
    if set & chronic::ASTHMA != 0 && rng.gen_bool(0.5) {
        set |= CONTROLLER;
    }
    set
}

/// The key and dates every claim line has.
fn claim(person: &Person, day: NaiveDate, rng: &mut ChaCha8Rng, n: &mut Counters) -> Event {
    n.doc += 1;
    let processed = day + Duration::days(rng.gen_range(2..20));
    let flow = first_of_next_month(processed);
    Event {
        start: at(day, 0),
        end: at(day, 0),
        age: age_on(person.birth, day),
        doc: n.doc,
        flow,
        processed,
        ..Event::default()
    }
}

fn consultation(
    person: &Person,
    day: NaiveDate,
    speciality: i64,
    rng: &mut ChaCha8Rng,
    out: &mut Out<'_>,
    n: &mut Counters,
) {
    // Fees of the period: C 25 €, 26.50 € from 22 December 2023; CS 30 €.
    let base = match speciality {
        1 if day >= ymd(2023, 12, 22) => 2_650,
        1 => 2_500,
        _ => 3_000,
    };
    let event = Event {
        nature: if speciality == 1 { 1111 } else { 1112 },
        executant: speciality,
        prescriber: speciality,
        rate: 70,
        base,
        reimbursed: base * 70 / 100 - 100,
        paid: base,
        unit: base,
        ..claim(person, day, rng, n)
    };
    out.emit(Table::Claims, person, &event);
}

fn acute_drugs(
    person: &Person,
    day: NaiveDate,
    rng: &mut ChaCha8Rng,
    out: &mut Out<'_>,
    n: &mut Counters,
) {
    let mut drugs = Vec::with_capacity(2);
    let season = SEASON[day.month0() as usize];
    if rng.gen_bool((0.35 * season).min(1.0)) {
        let child = age_on(person.birth, day) < 8;
        drugs.push(if child {
            16
        } else {
            ANTIBIOTICS[rng.gen_range(0..ANTIBIOTICS.len())]
        });
    }
    if drugs.is_empty() || rng.gen_bool(0.5) {
        drugs.push(SYMPTOMATIC[weighted(rng, &[5.0, 2.0, 0.5, 1.0, 0.8])]);
    }
    dispense(person, day, &drugs, 65, 1, rng, out, n);
}

fn chronic_drugs(
    person: &Person,
    day: NaiveDate,
    rng: &mut ChaCha8Rng,
    out: &mut Out<'_>,
    n: &mut Counters,
) {
    let drugs: Vec<usize> = DRUGS
        .iter()
        .enumerate()
        .filter(|(i, d)| {
            person.chronic & d.treats != 0
                && match i {
                    1 => person.chronic & INSULIN != 0,
                    7 => person.chronic & CONTROLLER != 0,
                    _ => true,
                }
        })
        .map(|(i, _)| i)
        .collect();
    // Diabetes is a long-term condition (ALD): its treatments are paid in full.
    let rate = if person.chronic & chronic::DIABETES != 0 {
        100
    } else {
        65
    };
    dispense(person, day, &drugs, rate, 1, rng, out, n);
}

/// One pharmacy claim line in `ER_PRS_F` and one `ER_PHA_F` line per drug, sharing
/// the claim's key.
#[allow(clippy::too_many_arguments)]
fn dispense(
    person: &Person,
    day: NaiveDate,
    drugs: &[usize],
    rate: i64,
    prescriber: i64,
    rng: &mut ChaCha8Rng,
    out: &mut Out<'_>,
    n: &mut Counters,
) {
    let boxes: Vec<i64> = drugs
        .iter()
        .map(|_| if rng.gen_bool(0.85) { 1 } else { 2 })
        .collect();
    let base: i64 = drugs
        .iter()
        .zip(&boxes)
        .map(|(&d, b)| DRUGS[d].price * b)
        .sum();
    let claim = Event {
        nature: if rate == 100 { 3311 } else { 3313 },
        executant: 0,
        prescriber,
        rate,
        base,
        reimbursed: base * rate / 100,
        paid: base,
        unit: base,
        quantity: boxes.iter().sum(),
        ..claim(person, day, rng, n)
    };
    out.emit(Table::Claims, person, &claim);
    for (line, (&drug, &boxes)) in drugs.iter().zip(&boxes).enumerate() {
        let event = Event {
            drug,
            boxes,
            drug_line: line as i64 + 1,
            ..claim
        };
        out.emit(Table::Drugs, person, &event);
    }
}

/// A stay around `day`: starting on it, or ending on it when `ending` says whether the
/// person dies there. Also tells whether its diagnosis is a cancer.
fn stay(
    person: &Person,
    day: NaiveDate,
    ending: Option<bool>,
    rng: &mut ChaCha8Rng,
    n: &mut Counters,
) -> (Event, bool) {
    let age = age_on(person.birth, day);
    let group = match age {
        ..15 => 0,
        15..65 => 1,
        _ => 2,
    };
    let weights: Vec<f64> = DIAGNOSES
        .iter()
        .map(|d| {
            let fits = d.sex == 0 || d.sex == person.sex;
            let young_mother = d.icd != "O800" || (18..46).contains(&age);
            let newborn = d.icd != "Z380" || age == 0;
            if fits && young_mother && newborn {
                f64::from(d.weights[group])
            } else {
                0.0
            }
        })
        .collect();
    let diagnosis = weighted(rng, &weights);
    let mean = DIAGNOSES[diagnosis].days;
    let days = if mean == 0.0 {
        0
    } else {
        (-mean * (1.0 - rng.r#gen::<f64>()).ln()).round() as i64
    };
    let (start, end) = match ending {
        Some(_) => (day - Duration::days(days), day),
        None => (day, day + Duration::days(days)),
    };
    let start = at(start, rng.gen_range(7..20)).max(at(person.birth, 0));
    let end = at(end, rng.gen_range(9..19)).max(start);
    n.stay += 1;
    let died = ending == Some(true);
    let event = Event {
        start,
        end,
        age: age_on(person.birth, start.date()),
        age_days: (start.date() - person.birth).num_days(),
        hospital: 100_000_000 + person.dept as i64 * 10 + rng.gen_range(0..4),
        stay: 1_000_000_000 + n.block as i64 * 100_000 + n.stay,
        days: (end.date() - start.date()).num_days(),
        diagnosis,
        admission: "8",
        origin: if rng.gen_bool(0.5) { "5" } else { "" },
        discharge: if died { "9" } else { "8" },
        destination: "",
        diagnoses: 1 + poisson(rng, 1.5) as i64,
        acts: poisson(rng, 2.0) as i64,
        ..Event::default()
    };
    (event, DIAGNOSES[diagnosis].cancer)
}

/// The death certificate: `KI_CCI_R` with the underlying cause, `KI_ECD_R` with it
/// and the associated causes.
fn certificate(
    person: &Person,
    death: NaiveDate,
    cancer: bool,
    in_hospital: bool,
    rng: &mut ChaCha8Rng,
    out: &mut Out<'_>,
) {
    let elderly = age_on(person.birth, death) >= 65;
    let weights: Vec<f64> = CAUSES
        .iter()
        .map(|&(code, old, young, is_cancer)| {
            let sex_fits = match code {
                "C61" => person.sex == 1,
                "C509" => person.sex == 2,
                _ => true,
            };
            let weight = f64::from(if elderly { old } else { young });
            let boost = if cancer && is_cancer { 8.0 } else { 1.0 };
            if sex_fits { weight * boost } else { 0.0 }
        })
        .collect();
    let cause = CAUSES[weighted(rng, &weights)].0;
    let certificate = Event {
        start: at(death, 0),
        end: at(death, 0),
        cause,
        death_place: if in_hospital { 1 } else { 2 },
        ..Event::default()
    };
    out.emit(Table::Deaths, person, &certificate);
    out.emit(Table::DeathCauses, person, &certificate);
    for rank in 2..=rng.gen_range(1..=3) {
        let associated = Event {
            cause: ASSOCIATED[rng.gen_range(0..ASSOCIATED.len())],
            cause_rank: rank,
            ..certificate
        };
        out.emit(Table::DeathCauses, person, &associated);
    }
}

/// A day of `year`, more often in winter.
fn seasonal_day(year: i32, rng: &mut ChaCha8Rng) -> NaiveDate {
    let month = weighted(rng, &SEASON) as u32 + 1;
    ymd(year, month, rng.gen_range(1..=28))
}

/// An index drawn with probability proportional to its weight.
fn weighted(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.r#gen::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// A Poisson draw (Knuth's method; means here are small).
fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut product = rng.r#gen::<f64>();
    let mut count = 0;
    while product > limit {
        product *= rng.r#gen::<f64>();
        count += 1;
    }
    count
}

/// Whole years between `birth` and `day`.
pub(crate) fn age_on(birth: NaiveDate, day: NaiveDate) -> i64 {
    let mut age = i64::from(day.year() - birth.year());
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age.max(0)
}

fn first_of_next_month(day: NaiveDate) -> NaiveDate {
    let (year, month) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    ymd(year, month, 1)
}

pub(crate) fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("days 1 to 28 exist in every month")
}

fn at(day: NaiveDate, hour: u32) -> NaiveDateTime {
    day.and_hms_opt(hour, 0, 0).expect("an hour of the day")
}
