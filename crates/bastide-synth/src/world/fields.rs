//! What the simulation knows about a row, and which SNDS columns take it. A column
//! name means the same thing in every table of the SNDS (`BEN_NIR_PSA`, `EXE_SOI_DTD`,
//! `ETA_NUM`, ...), so one mapping serves all of them; the schema's format decides how
//! the value is written (`EXE_SOI_DTD` is a date in `ER_PRS_F` and a date-time in
//! `T_MCOaaC`). Columns it does not name get dummy values.

use chrono::{NaiveDate, NaiveDateTime};

use super::World;
use super::layout::Cell;
use super::people::Person;
use super::reference::{DIAGNOSES, DRUGS};

/// A value the simulation gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// Always this text.
    Const(&'static str),
    /// Always empty.
    Empty,
    PersonId,
    NirAno,
    IdtAno,
    Sex,
    Birth,
    Dept,
    DeptPostal,
    PostCode,
    Commune,
    Death,
    Registered,
    PeriodEnd,
    Age,
    AgeYears,
    AgeDays,
    Start,
    End,
    Flow,
    Processed,
    Doc,
    EmitterNum,
    EmitterOrd,
    OrgKey,
    Line,
    Nature,
    Executant,
    Prescriber,
    Rate,
    Base,
    Reimbursed,
    Paid,
    Unit,
    Quantity,
    Cip13,
    Boxes,
    DrugPrice,
    DrugLine,
    Hospital,
    Stay,
    Days,
    Diagnosis,
    Ghm,
    Admission,
    Origin,
    Discharge,
    Destination,
    Diagnoses,
    Acts,
    Cause,
    CauseRank,
    DeathPlace,
}

/// The field column `name` takes, if the simulation knows it.
pub(crate) fn field(name: &str) -> Option<Field> {
    use Field::*;
    Some(match name {
        "BEN_NIR_PSA" | "NIR_ANO_17" => PersonId,
        "BEN_NIR_ANO" | "ASS_NIR_ANO" => NirAno,
        "BEN_IDT_ANO" => IdtAno,
        "BEN_RNG_GEM" | "BEN_IDT_TOP" | "FLX_EMT_TYP" | "REM_TYP_AFF" | "BSE_REM_SGN"
        | "PRS_ACT_CFT" | "PRS_ACT_NBR" | "NBR_RUM" => Const("1"),
        "BEN_CDI_NIR" => Const("00"),
        "BEN_SEX_COD" | "COD_SEX" => Sex,
        "BEN_NAI_ANN" | "BEN_NAI_MOI" => Birth,
        "BEN_RES_DPT" | "DCD_DPT_COD" => Dept,
        "BEN_RES_COM" | "DCD_COM_COD" => Commune,
        "BDI_DEP" => DeptPostal,
        "BDI_COD" => PostCode,
        "BEN_DCD_DTE" | "BEN_DCD_AME" | "FLX_PER_ANN" => Death,
        "BEN_DTE_INS" | "BEN_IDT_MAJ" => Registered,
        "BEN_DTE_MAJ" | "MAX_TRT_DTD" => PeriodEnd,
        "BEN_AMA_COD" => Age,
        "AGE_ANN" => AgeYears,
        "AGE_JOU" => AgeDays,
        "EXE_SOI_DTD" | "EXE_SOI_AMD" | "PRE_PRE_DTD" | "PRE_PRE_AMD" | "ENT_DAT" | "ENT_AM" => {
            Start
        }
        "EXE_SOI_DTF" | "EXE_SOI_AMF" | "SOR_DAT" | "SOR_AM" | "SOR_ANN" | "SOR_MOI" => End,
        "FLX_DIS_DTD" => Flow,
        "FLX_TRT_DTD" => Processed,
        "DCT_ORD_NUM" => Doc,
        "FLX_EMT_NUM" => EmitterNum,
        "FLX_EMT_ORD" => EmitterOrd,
        "ORG_CLE_NUM" => OrgKey,
        "PRS_ORD_NUM" => Line,
        "PRS_NAT_REF" | "BSE_PRS_NAT" => Nature,
        "PSE_SPE_COD" => Executant,
        "PSP_SPE_COD" => Prescriber,
        "RGO_REM_TAU" => Rate,
        "BSE_REM_BSE" => Base,
        "BSE_REM_MNT" => Reimbursed,
        "PRS_PAI_MNT" => Paid,
        "BSE_REM_PRU" => Unit,
        "PRS_ACT_QTE" => Quantity,
        "PRS_REJ_TOP" | "PRS_DEP_MNT" | "NBR_SEA" | "PHA_SUB_MTF" | "PHA_SEQ_RNV" => Const("0"),
        "PHA_PRS_C13" => Cip13,
        "PHA_ACT_QSN" => Boxes,
        "PHA_ACT_PRU" => DrugPrice,
        "PHA_ORD_NUM" => DrugLine,
        "ETA_NUM" => Hospital,
        "RSA_NUM" => Stay,
        "SEJ_NBJ" => Days,
        "DGN_PAL" => Diagnosis,
        "GRG_GHM" | "GRC_GHM" => Ghm,
        "ENT_MOD" => Admission,
        "ENT_PRV" => Origin,
        "SOR_MOD" => Discharge,
        "SOR_DES" => Destination,
        "NBR_DGN" => Diagnoses,
        "NBR_ACT" => Acts,
        "DCD_CIM_COD" | "ECD_CIM_COD" => Cause,
        "ECD_CAU_RNG" | "CER_LIG_NUM" => CauseRank,
        "DCD_LIE_COD" => DeathPlace,
        // Complementary insurance, earlier stays, births, free text and neonatal
        // details: none in this world.
        "CPL_REM_BSE" | "CPL_REM_MNT" | "CPL_REM_PRU" | "CPL_REM_SGN" | "CPL_PRS_NAT"
        | "CPL_REM_TAU" | "PRS_GRS_DTD" | "PRS_HOS_AMD" | "PRS_HOS_DTD" | "PRS_DRA_AME"
        | "PRS_MNT_MAJ" | "DGN_REL" | "AGE_GES" | "POI_NAI" | "NBR_NAIS_ANT" | "NBR_IVG_ANT"
        | "ANN_IVG_PREC" | "NIR_ANO_MAM" | "DCD_IDT_ENC" | "DCD_LIE_LIB" | "MER_PFG_LIB"
        | "PER_PFG_LIB" | "ECD_CAU_LIB" | "NEO_APG_SCO" | "NEO_GES_AGE" | "NEO_NAI_POI"
        | "MER_NAI_ANN" => Empty,
        // The CIP7 code: the dictionary makes it a key into IR_PHA_R's CIP13 column,
        // which no CIP7 can satisfy; left empty, the CIP13 says which drug.
        "PHA_PRS_IDE" => Empty,
        // Quality flags of the PMSI: 0 means the link checks passed.
        _ if name.ends_with("_RET") => Const("0"),
        _ => return None,
    })
}

/// One event of a person's life: a claim, a dispensed drug, a stay, a death.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub age: i64,
    pub age_days: i64,
    pub doc: u64,
    pub flow: NaiveDate,
    pub processed: NaiveDate,
    pub line: i64,
    pub nature: i64,
    pub executant: i64,
    pub prescriber: i64,
    pub rate: i64,
    pub base: i64,
    pub reimbursed: i64,
    pub paid: i64,
    pub unit: i64,
    pub quantity: i64,
    pub drug: usize,
    pub boxes: i64,
    pub drug_line: i64,
    pub hospital: i64,
    pub stay: i64,
    pub days: i64,
    pub diagnosis: usize,
    pub admission: &'static str,
    pub origin: &'static str,
    pub discharge: &'static str,
    pub destination: &'static str,
    pub diagnoses: i64,
    pub acts: i64,
    pub cause: &'static str,
    pub cause_rank: i64,
    pub death_place: i64,
}

impl Default for Event {
    fn default() -> Self {
        let epoch = NaiveDateTime::default();
        Self {
            start: epoch,
            end: epoch,
            age: 0,
            age_days: 0,
            doc: 0,
            flow: epoch.date(),
            processed: epoch.date(),
            line: 1,
            nature: 0,
            executant: 0,
            prescriber: 0,
            rate: 0,
            base: 0,
            reimbursed: 0,
            paid: 0,
            unit: 0,
            quantity: 1,
            drug: 0,
            boxes: 1,
            drug_line: 1,
            hospital: 0,
            stay: 0,
            days: 0,
            diagnosis: 0,
            admission: "8",
            origin: "",
            discharge: "8",
            destination: "",
            diagnoses: 1,
            acts: 0,
            cause: "",
            cause_rank: 1,
            death_place: 0,
        }
    }
}

/// A row to write: whose, and which event.
pub(crate) struct Row<'a> {
    pub world: &'a World,
    pub person: &'a Person,
    pub block: u64,
    pub event: &'a Event,
}

impl Row<'_> {
    /// The value of `field` in this row.
    pub fn cell(&self, field: Field) -> Cell<'_> {
        use Field::*;
        let (p, e) = (self.person, self.event);
        let date = |d: NaiveDate| Cell::At(d.and_time(Default::default()));
        let dept = self.world.depts[p.dept].as_bytes();
        match field {
            Const(text) => Cell::Text(text.as_bytes()),
            Empty => Cell::Empty,
            PersonId => Cell::Text(&p.ids.psa),
            NirAno => Cell::Text(&p.ids.nir_ano),
            IdtAno => Cell::Text(&p.ids.idt_ano),
            Sex => Cell::Int(i64::from(p.sex)),
            Birth => date(p.birth),
            Dept => Cell::Text(dept),
            DeptPostal => Cell::Text(postal(dept)),
            PostCode => Cell::Text(&p.post_code),
            Commune => Cell::Text(&p.commune),
            Death => p.death.map_or(Cell::Empty, date),
            Registered => date(p.registered),
            PeriodEnd => date(self.world.period_end),
            Age => Cell::Int(e.age),
            AgeYears if e.age > 0 => Cell::Int(e.age),
            AgeDays if e.age == 0 => Cell::Int(e.age_days),
            AgeYears | AgeDays => Cell::Empty,
            Start => Cell::At(e.start),
            End => Cell::At(e.end),
            Flow => date(e.flow),
            Processed => date(e.processed),
            Doc => Cell::Int(e.doc as i64),
            // With the document number, these two make a claim's key unique: the
            // block of beneficiaries it comes from.
            EmitterNum => Cell::Int((self.block / 10_000) as i64),
            EmitterOrd => Cell::Int((self.block % 10_000) as i64),
            OrgKey => Cell::Text(&p.fund),
            Line => Cell::Int(e.line),
            Nature => Cell::Int(e.nature),
            Executant => Cell::Int(e.executant),
            Prescriber => Cell::Int(e.prescriber),
            Rate => Cell::Int(e.rate),
            Base => Cell::Cents(e.base),
            Reimbursed => Cell::Cents(e.reimbursed),
            Paid => Cell::Cents(e.paid),
            Unit => Cell::Cents(e.unit),
            Quantity => Cell::Int(e.quantity),
            Cip13 => Cell::Int(DRUGS[e.drug].cip13 as i64),
            Boxes => Cell::Int(e.boxes),
            DrugPrice => Cell::Cents(DRUGS[e.drug].price),
            DrugLine => Cell::Int(e.drug_line),
            Hospital => Cell::Int(e.hospital),
            Stay => Cell::Int(e.stay),
            Days => Cell::Int(e.days),
            Diagnosis => Cell::Text(DIAGNOSES[e.diagnosis].icd.as_bytes()),
            Ghm => Cell::Text(DIAGNOSES[e.diagnosis].ghm.as_bytes()),
            Admission => Cell::Text(e.admission.as_bytes()),
            Origin => Cell::Text(e.origin.as_bytes()),
            Discharge => Cell::Text(e.discharge.as_bytes()),
            Destination => Cell::Text(e.destination.as_bytes()),
            Diagnoses => Cell::Int(e.diagnoses),
            Acts => Cell::Int(e.acts),
            Cause => Cell::Text(e.cause.as_bytes()),
            CauseRank => Cell::Int(e.cause_rank),
            DeathPlace => Cell::Int(e.death_place),
        }
    }
}

/// The two-character department of a postal code: `075` → `75`, `02A` → `2A`,
/// `971` → `97`.
fn postal(dept: &[u8]) -> &[u8] {
    match dept {
        [b'0', rest @ ..] => rest,
        _ => &dept[..dept.len().min(2)],
    }
}
