//! A coherent SNDS-like database at any scale: beneficiaries (`IR_BEN_R`), outpatient
//! claims (`ER_PRS_F`) with their drugs (`ER_PHA_F`), hospital stays (`T_MCOaaB` and
//! `T_MCOaaC`, linked to beneficiaries through `NIR_ANO_17`) and causes of death
//! (`KI_CCI_R`, `KI_ECD_R`), written as CSV files with their Table Schemas and the
//! nomenclatures they use, ready for `bastide dataset create` and `bastide ingest`.
//!
//! Beneficiaries are simulated in blocks of [`BLOCK`], each from its own random
//! stream, on every core; blocks are written in order, so the same seed gives the same
//! files whatever the number of threads.

mod fields;
mod layout;
mod people;
mod reference;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bastide_ingest::TableSchema;
use chrono::NaiveDate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::{Error, Result};
use layout::{Codes, Filler, Layout};
use people::{Counters, Person, ymd};

/// Beneficiaries per block.
const BLOCK: u64 = 256;
/// The most beneficiaries: claim and stay numbers stay within their columns' ranges.
pub const MAX_BENEFICIARIES: u64 = 40_000_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many beneficiaries.
    pub beneficiaries: u64,
    /// The seed: the same seed gives the same files.
    pub seed: u64,
    /// The first and last years of care.
    pub years: (i32, i32),
    /// Only these tables (all when empty); the simulation is the same either way.
    pub tables: Vec<String>,
    /// Threads (0: one per core).
    pub threads: usize,
}

/// What was generated.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The folder written.
    pub out: PathBuf,
    /// Beneficiaries simulated.
    pub beneficiaries: u64,
    /// The seed.
    pub seed: u64,
    /// First and last years of care.
    pub years: (i32, i32),
    /// Each table written.
    pub tables: Vec<TableReport>,
    /// Nomenclatures written beside them.
    pub nomenclatures: Vec<String>,
    /// Time taken.
    pub seconds: f64,
}

/// One table written.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    /// Its name.
    pub name: String,
    /// Its CSV file, relative to the folder.
    pub file: String,
    /// Rows written.
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// The tables generated, in order.
pub fn tables() -> impl Iterator<Item = &'static str> {
    reference::TABLES.iter().map(|(name, _)| *name)
}

/// The tables, as indices into [`reference::TABLES`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Table {
    Beneficiaries = 0,
    Claims,
    Drugs,
    StaysB,
    StaysC,
    Deaths,
    DeathCauses,
}

/// What every block shares: the period, the departments, the tables' layouts.
pub(crate) struct World {
    pub first: i32,
    pub last: i32,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub depts: Vec<String>,
    layouts: Vec<Option<Layout>>,
    seed: u64,
    salts: [u64; 3],
}

impl World {
    /// Identifier `which` (0: `BEN_NIR_PSA`, 1: `BEN_NIR_ANO`, 2: `BEN_IDT_ANO`) of
    /// beneficiary `index`: 17 characters, distinct for distinct beneficiaries (a
    /// bijection of the index), different with another seed.
    fn identifier(&self, which: usize, index: u64) -> [u8; 17] {
        const DIGITS: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let salt = self.salts[which];
        let mut out = [0u8; 17];
        let mut prefix = salt;
        for byte in &mut out[..4] {
            *byte = DIGITS[(prefix % 26) as usize];
            prefix /= 26;
        }
        let mut value = mix(index ^ salt);
        for byte in out[4..].iter_mut().rev() {
            *byte = DIGITS[(value % 36) as usize];
            value /= 36;
        }
        out
    }
}

/// A block's output: one buffer and a row count per table.
pub(crate) struct Out<'w> {
    world: &'w World,
    block: u64,
    buffers: Vec<Vec<u8>>,
    rows: Vec<u64>,
    fillers: Vec<Filler>,
}

impl Out<'_> {
    /// Writes `event` of `person` to `table`, when that table is generated.
    pub fn emit(&mut self, table: Table, person: &Person, event: &fields::Event) {
        let t = table as usize;
        if let Some(layout) = &self.world.layouts[t] {
            let row = fields::Row {
                world: self.world,
                person,
                block: self.block,
                event,
            };
            layout.write(&row, &mut self.fillers[t], &mut self.buffers[t]);
            self.rows[t] += 1;
        }
    }
}

/// Generates the database described by `options` into `out`, a new or empty folder:
/// `<TABLE>.csv` files, `schemas/`, `nomenclatures/` and `synth.json`. The folder
/// appears complete or not at all. `progress` gets (beneficiaries done, all).
pub fn generate(
    options: &Options,
    out: &Path,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Report> {
    let started = Instant::now();
    check(options)?;
    let staging = staging_dir(out)?;
    let result = write_world(options, &staging, progress);
    let (tables, nomenclatures) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if out.exists() {
        std::fs::remove_dir(out).map_err(|e| Error::io(out, e))?;
    }
    std::fs::rename(&staging, out).map_err(|e| Error::io(out, e))?;
    Ok(Report {
        out: out.to_owned(),
        beneficiaries: options.beneficiaries,
        seed: options.seed,
        years: options.years,
        tables,
        nomenclatures,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn check(options: &Options) -> Result<()> {
    if !(1..=MAX_BENEFICIARIES).contains(&options.beneficiaries) {
        return Err(Error::Options(format!(
            "--beneficiaries must be between 1 and {MAX_BENEFICIARIES}"
        )));
    }
    let (first, last) = options.years;
    if !(1950..=2100).contains(&first) || !(first..=2100).contains(&last) {
        return Err(Error::Options(
            "--years must be two years between 1950 and 2100, the first not after the last (e.g. 2019-2023)".into(),
        ));
    }
    for table in &options.tables {
        if !tables().any(|t| t == table) {
            return Err(Error::Options(format!(
                "--tables: no table `{table}`; choose among {}",
                tables().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}

/// A hidden sibling of `out` to write into; `out` must be new or empty.
fn staging_dir(out: &Path) -> Result<PathBuf> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_none();
        if !empty {
            return Err(Error::Options(format!(
                "{} is not empty: give a new or empty folder, nothing is ever overwritten",
                out.display()
            )));
        }
    }
    let name = out
        .file_name()
        .ok_or_else(|| Error::Options(format!("{} is not a folder name", out.display())))?;
    let staging = out.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    std::fs::create_dir_all(staging.join("schemas")).map_err(|e| Error::io(&staging, e))?;
    std::fs::create_dir_all(staging.join("nomenclatures")).map_err(|e| Error::io(&staging, e))?;
    Ok(staging)
}

fn write_world(
    options: &Options,
    dir: &Path,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(Vec<TableReport>, Vec<String>)> {
    let chosen = |name: &str| options.tables.is_empty() || options.tables.iter().any(|t| t == name);
    let schemas = reference::TABLES
        .iter()
        .map(|(name, json)| TableSchema::parse(&format!("{name}.json"), json))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let codes = shipped_codes(&schemas)?;
    let world = World {
        first: options.years.0,
        last: options.years.1,
        period_start: ymd(options.years.0, 1, 1),
        period_end: NaiveDate::from_ymd_opt(options.years.1, 12, 31).expect("31 December"),
        depts: departments()?,
        layouts: schemas
            .iter()
            .zip(0..)
            .map(|(schema, t)| {
                chosen(&schema.name).then(|| {
                    // Each table's pools from their own stream: the same whichever
                    // other tables are generated.
                    let mut pools = ChaCha8Rng::seed_from_u64(options.seed);
                    pools.set_stream(u64::MAX - t);
                    Layout::new(schema, &codes, &mut pools)
                })
            })
            .collect(),
        seed: options.seed,
        salts: [1u64, 2, 3].map(|i| mix(options.seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15))),
    };
    for ((name, json), layout) in reference::TABLES.iter().zip(&world.layouts) {
        if layout.is_some() {
            write_file(
                &dir.join("schemas").join(format!("{name}.json")),
                &marked(json)?,
            )?;
        }
    }
    let nomenclatures = write_nomenclatures(&dir.join("nomenclatures"))?;
    let tables = write_rows(&world, options, dir, progress)?;
    let manifest = serde_json::json!({
        "generator": "bastide synth",
        "beneficiaries": options.beneficiaries,
        "seed": options.seed,
        "years": [options.years.0, options.years.1],
        "tables": tables,
        "nomenclatures": nomenclatures,
    });
    write_file(
        &dir.join("synth.json"),
        &serde_json::to_vec_pretty(&manifest).expect("JSON"),
    )?;
    Ok((tables, nomenclatures))
}

/// Simulates every block on `options.threads` threads and writes them in order.
fn write_rows(
    world: &World,
    options: &Options,
    dir: &Path,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<TableReport>> {
    let blocks = options.beneficiaries.div_ceil(BLOCK);
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(blocks as usize)
    .max(1);
    let mut files = Vec::new();
    for ((name, _), layout) in reference::TABLES.iter().zip(&world.layouts) {
        files.push(match layout {
            Some(layout) => {
                let path = dir.join(format!("{name}.csv"));
                let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
                let mut writer = BufWriter::with_capacity(1 << 20, file);
                writer
                    .write_all(&layout.header)
                    .map_err(|e| Error::io(&path, e))?;
                Some((path, writer, 0u64, layout.header.len() as u64))
            }
            None => None,
        });
    }
    let next = AtomicU64::new(0);
    let (sender, receiver) =
        std::sync::mpsc::sync_channel::<(u64, Vec<Vec<u8>>, Vec<u64>)>(threads * 2);
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..threads {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let block = next.fetch_add(1, Ordering::Relaxed);
                    if block >= blocks {
                        break;
                    }
                    let (buffers, rows) = simulate(world, options.beneficiaries, block);
                    if sender.send((block, buffers, rows)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut pending = BTreeMap::new();
        let mut written = 0;
        for (block, buffers, rows) in receiver.iter() {
            pending.insert(block, (buffers, rows));
            while let Some((buffers, rows)) = pending.remove(&written) {
                for ((file, buffer), count) in files.iter_mut().zip(buffers).zip(rows) {
                    if let Some((path, writer, rows, bytes)) = file {
                        writer.write_all(&buffer).map_err(|e| Error::io(path, e))?;
                        *rows += count;
                        *bytes += buffer.len() as u64;
                    }
                }
                written += 1;
                progress(
                    (written * BLOCK).min(options.beneficiaries),
                    options.beneficiaries,
                );
            }
        }
        Ok(())
    })?;
    let mut reports = Vec::new();
    for ((name, _), file) in reference::TABLES.iter().zip(files) {
        if let Some((path, writer, rows, bytes)) = file {
            let file = writer
                .into_inner()
                .map_err(|e| Error::io(&path, e.into_error()))?;
            file.sync_all().map_err(|e| Error::io(&path, e))?;
            reports.push(TableReport {
                name: (*name).to_owned(),
                file: format!("{name}.csv"),
                rows,
                bytes,
            });
        }
    }
    Ok(reports)
}

/// One block of beneficiaries: its rows, per table.
fn simulate(world: &World, beneficiaries: u64, block: u64) -> (Vec<Vec<u8>>, Vec<u64>) {
    let stream = |k: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(world.seed);
        rng.set_stream(block * 16 + k);
        rng
    };
    let mut out = Out {
        world,
        block,
        buffers: vec![Vec::new(); world.layouts.len()],
        rows: vec![0; world.layouts.len()],
        fillers: (0..world.layouts.len() as u64)
            .map(|t| Filler::new(stream(t + 1)))
            .collect(),
    };
    let mut rng = stream(0);
    let mut counters = Counters::new(block);
    let first = block * BLOCK;
    for index in first..(first + BLOCK).min(beneficiaries) {
        people::live(world, index, &mut rng, &mut out, &mut counters);
    }
    (out.buffers, out.rows)
}

/// The codes of shipped nomenclatures that the tables' foreign keys name.
fn shipped_codes(schemas: &[TableSchema]) -> Result<Codes> {
    let wanted: HashSet<(String, String)> = schemas
        .iter()
        .flat_map(|s| &s.foreign_keys)
        .filter_map(|key| match key.reference_fields.as_slice() {
            [reference] => Some((key.resource.clone(), reference.clone())),
            _ => None,
        })
        .collect();
    let mut codes = HashMap::new();
    for (name, _, csv) in reference::NOMENCLATURES {
        let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(csv);
        let headers = reader
            .headers()
            .map_err(|e| Error::Nomenclature(name, e))?
            .clone();
        let columns: Vec<(usize, String)> = headers
            .iter()
            .enumerate()
            .filter(|(_, h)| wanted.contains(&(name.to_owned(), (*h).to_owned())))
            .map(|(i, h)| (i, h.to_owned()))
            .collect();
        if columns.is_empty() {
            continue;
        }
        let mut values: Vec<Vec<String>> = vec![Vec::new(); columns.len()];
        for record in reader.records() {
            let record = record.map_err(|e| Error::Nomenclature(name, e))?;
            for ((i, _), values) in columns.iter().zip(&mut values) {
                if let Some(value) = record.get(*i).filter(|v| !v.is_empty()) {
                    values.push(value.to_owned());
                }
            }
        }
        for ((_, column), values) in columns.into_iter().zip(values) {
            codes.insert((name.to_owned(), column), values);
        }
    }
    Ok(codes)
}

/// Codes of the departments of residence (the military and unknown ones left out).
fn departments() -> Result<Vec<String>> {
    let (name, _, csv) = reference::NOMENCLATURES
        .iter()
        .find(|(name, ..)| *name == "IR_DPT_V")
        .expect("IR_DPT_V is shipped");
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(*csv);
    let mut depts = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| Error::Nomenclature(name, e))?;
        let (code, region) = (record.get(0).unwrap_or(""), record.get(1).unwrap_or(""));
        if region != "99" && code.len() == 3 && code != "000" {
            depts.push(code.to_owned());
        }
    }
    Ok(depts)
}

/// A table's schema with its identifier columns marked `"bastide:identifier": true`.
fn marked(json: &[u8]) -> Result<Vec<u8>> {
    let mut schema: serde_json::Value = serde_json::from_slice(json)
        .map_err(|e| Error::Options(format!("embedded schema: {e}")))?;
    if let Some(fields) = schema.get_mut("fields").and_then(|f| f.as_array_mut()) {
        for field in fields {
            let name = field
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or_default();
            if reference::IDENTIFIERS.contains(&name) {
                field["bastide:identifier"] = serde_json::Value::Bool(true);
            }
        }
    }
    Ok(serde_json::to_vec_pretty(&schema).expect("JSON"))
}

/// Writes the shipped nomenclatures and `IR_PHA_R`, the drugs this world dispenses.
fn write_nomenclatures(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (name, schema, csv) in reference::NOMENCLATURES {
        write_file(&dir.join(format!("{name}.json")), schema)?;
        write_file(&dir.join(format!("{name}.csv")), csv)?;
        names.push(name.to_owned());
    }
    let schema = TableSchema::parse("IR_PHA_R.json", reference::IR_PHA_R)?;
    let missing = schema.missing_values.first().cloned().unwrap_or_default();
    let mut csv = Vec::new();
    let header: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
    csv.extend_from_slice(header.join(";").as_bytes());
    csv.push(b'\n');
    for drug in &reference::DRUGS {
        let values: Vec<String> = header
            .iter()
            .map(|column| match *column {
                "PHA_CIP_C13" => drug.cip13.to_string(),
                "PHA_PRS_IDE" => (drug.cip13 % 10_000_000).to_string(),
                "PHA_MED_NOM" | "PHA_NOM_COURT" => drug.name.to_owned(),
                "PHA_ATC_C07" | "PHA_ATC_CLA" => drug.atc.to_owned(),
                "PHA_ATC_L07" | "PHA_ATC_LIB" => drug.atc_label.to_owned(),
                "PHA_ATC_C03" => drug.atc[..4].to_owned(),
                _ => missing.clone(),
            })
            .collect();
        csv.extend_from_slice(values.join(";").as_bytes());
        csv.push(b'\n');
    }
    write_file(&dir.join("IR_PHA_R.json"), reference::IR_PHA_R)?;
    write_file(&dir.join("IR_PHA_R.csv"), &csv)?;
    names.push("IR_PHA_R".to_owned());
    Ok(names)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// SplitMix64's finaliser: a bijection of 64-bit numbers that scatters them.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
