//! What the synthetic world is made of: the tables' schemas and the nomenclatures it
//! ships (embedded from `fixtures/snds`), the age pyramid, seasonality, diagnoses,
//! causes of death and drugs. Codes are real ICD-10 and ATC codes; drug CIP13 codes
//! are fictitious (`34009300000xx`), listed in the `IR_PHA_R` table it writes.

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/snds/",
            $path
        ))
    };
}

/// The tables of the world, in the order they are generated: (name, schema).
pub(crate) const TABLES: [(&str, &[u8]); 7] = [
    ("IR_BEN_R", fixture!("schemas/BENEFICIAIRE/IR_BEN_R.json")),
    ("ER_PRS_F", fixture!("schemas/DCIR/ER_PRS_F.json")),
    ("ER_PHA_F", fixture!("schemas/DCIR/ER_PHA_F.json")),
    ("T_MCOaaB", fixture!("schemas/PMSI/PMSI MCO/T_MCOaaB.json")),
    ("T_MCOaaC", fixture!("schemas/PMSI/PMSI MCO/T_MCOaaC.json")),
    (
        "KI_CCI_R",
        fixture!("schemas/Causes de décès/KI_CCI_R.json"),
    ),
    (
        "KI_ECD_R",
        fixture!("schemas/Causes de décès/KI_ECD_R.json"),
    ),
];

/// Columns holding direct identifiers; the schemas written out mark them
/// `"bastide:identifier": true`.
pub(crate) const IDENTIFIERS: [&str; 5] = [
    "BEN_NIR_PSA",
    "NIR_ANO_17",
    "BEN_NIR_ANO",
    "BEN_IDT_ANO",
    "ASS_NIR_ANO",
];

/// The nomenclatures written beside the tables: (name, schema, CSV with `;`).
pub(crate) const NOMENCLATURES: [(&str, &[u8], &[u8]); 10] = [
    (
        "IR_SEX_V",
        fixture!("nomenclatures/IR_SEX_V.json"),
        fixture!("nomenclatures/IR_SEX_V.csv"),
    ),
    (
        "IR_BER_V",
        fixture!("nomenclatures/IR_BER_V.json"),
        fixture!("nomenclatures/IR_BER_V.csv"),
    ),
    (
        "IR_NIR_V",
        fixture!("nomenclatures/IR_NIR_V.json"),
        fixture!("nomenclatures/IR_NIR_V.csv"),
    ),
    (
        "IR_DPT_V",
        fixture!("nomenclatures/IR_DPT_V.json"),
        fixture!("nomenclatures/IR_DPT_V.csv"),
    ),
    (
        "IR_NAT_V",
        fixture!("nomenclatures/IR_NAT_V.json"),
        fixture!("nomenclatures/IR_NAT_V.csv"),
    ),
    (
        "IR_SPE_V",
        fixture!("nomenclatures/IR_SPE_V.json"),
        fixture!("nomenclatures/IR_SPE_V.csv"),
    ),
    (
        "MS_CIM_V",
        fixture!("nomenclatures/MS_CIM_V.json"),
        fixture!("nomenclatures/MS_CIM_V.csv"),
    ),
    (
        "IR_CIM_V",
        fixture!("nomenclatures/IR_CIM_V.json"),
        fixture!("nomenclatures/IR_CIM_V.csv"),
    ),
    (
        "MS_SOR_V",
        fixture!("nomenclatures/MS_SOR_V.json"),
        fixture!("nomenclatures/MS_SOR_V.csv"),
    ),
    (
        "MS_PRV_V",
        fixture!("nomenclatures/MS_PRV_V.json"),
        fixture!("nomenclatures/MS_PRV_V.csv"),
    ),
];

/// The drug table's schema; its rows are [`DRUGS`].
pub(crate) const IR_PHA_R: &[u8] = fixture!("nomenclatures/IR_PHA_R.json");

/// Share of the population by five-year age band, 0-4 to 95-99 (France, about 2020).
pub(crate) const PYRAMID: [f64; 20] = [
    5.5, 6.0, 6.2, 6.1, 5.6, 5.6, 6.0, 6.3, 6.2, 6.8, 6.7, 6.5, 6.2, 5.8, 5.2, 3.6, 2.9, 2.0, 0.9,
    0.3,
];

/// Relative frequency of care by month, January to December (winter epidemics).
pub(crate) const SEASON: [f64; 12] = [
    1.3, 1.25, 1.1, 1.0, 0.95, 0.9, 0.8, 0.65, 0.95, 1.0, 1.05, 1.25,
];

/// Chronic conditions, as bits of a person's `chronic` set.
pub(crate) mod chronic {
    pub(crate) const DIABETES: u8 = 1;
    pub(crate) const HYPERTENSION: u8 = 2;
    pub(crate) const CHOLESTEROL: u8 = 4;
    pub(crate) const THYROID: u8 = 8;
    pub(crate) const ASTHMA: u8 = 16;
}

/// A drug: its (fictitious) CIP13 code, name, ATC class, price of a box in cents,
/// and the chronic condition it treats (0 for acute treatments).
#[derive(Debug)]
pub(crate) struct Drug {
    pub cip13: u64,
    pub name: &'static str,
    pub atc: &'static str,
    pub atc_label: &'static str,
    pub price: i64,
    pub treats: u8,
}

const fn drug(
    n: u64,
    name: &'static str,
    atc: &'static str,
    atc_label: &'static str,
    price: i64,
    treats: u8,
) -> Drug {
    Drug {
        cip13: 3_400_930_000_000 + n,
        name,
        atc,
        atc_label,
        price,
        treats,
    }
}

/// Every drug the world dispenses.
pub(crate) const DRUGS: [Drug; 17] = [
    drug(
        11,
        "METFORMINE 1000 MG CPR 90",
        "A10BA02",
        "METFORMINE",
        1_150,
        chronic::DIABETES,
    ),
    drug(
        12,
        "INSULINE GLARGINE 100 U/ML 5 STYLOS",
        "A10AE04",
        "INSULINE GLARGINE",
        4_480,
        chronic::DIABETES,
    ),
    drug(
        21,
        "RAMIPRIL 5 MG CPR 90",
        "C09AA05",
        "RAMIPRIL",
        1_020,
        chronic::HYPERTENSION,
    ),
    drug(
        22,
        "AMLODIPINE 5 MG GELULE 90",
        "C08CA01",
        "AMLODIPINE",
        890,
        chronic::HYPERTENSION,
    ),
    drug(
        31,
        "ATORVASTATINE 20 MG CPR 90",
        "C10AA05",
        "ATORVASTATINE",
        1_640,
        chronic::CHOLESTEROL,
    ),
    drug(
        41,
        "LEVOTHYROXINE 75 UG CPR 90",
        "H03AA01",
        "LEVOTHYROXINE",
        560,
        chronic::THYROID,
    ),
    drug(
        51,
        "SALBUTAMOL 100 UG INHAL",
        "R03AC02",
        "SALBUTAMOL",
        420,
        chronic::ASTHMA,
    ),
    drug(
        52,
        "BUDESONIDE FORMOTEROL 200/6 INHAL",
        "R03AK07",
        "FORMOTEROL ET BUDESONIDE",
        3_370,
        chronic::ASTHMA,
    ),
    drug(
        61,
        "AMOXICILLINE 1 G CPR 6",
        "J01CA04",
        "AMOXICILLINE",
        310,
        0,
    ),
    drug(
        62,
        "AMOXICILLINE ACIDE CLAVULANIQUE 1 G CPR 8",
        "J01CR02",
        "AMOXICILLINE ET INHIBITEUR D'ENZYME",
        620,
        0,
    ),
    drug(
        63,
        "AZITHROMYCINE 250 MG CPR 6",
        "J01FA10",
        "AZITHROMYCINE",
        720,
        0,
    ),
    drug(
        71,
        "PARACETAMOL 1 G CPR 8",
        "N02BE01",
        "PARACETAMOL",
        196,
        0,
    ),
    drug(
        72,
        "IBUPROFENE 400 MG CPR 30",
        "M01AE01",
        "IBUPROFENE",
        225,
        0,
    ),
    drug(
        73,
        "TRAMADOL 50 MG GELULE 30",
        "N02AX02",
        "TRAMADOL",
        350,
        0,
    ),
    drug(
        81,
        "OMEPRAZOLE 20 MG GELULE 28",
        "A02BC01",
        "OMEPRAZOLE",
        390,
        0,
    ),
    drug(
        82,
        "PREDNISOLONE 20 MG CPR 20",
        "H02AB06",
        "PREDNISOLONE",
        300,
        0,
    ),
    drug(
        83,
        "AMOXICILLINE 500 MG/5 ML SUSP BUV",
        "J01CA04",
        "AMOXICILLINE",
        280,
        0,
    ),
];

/// Acute drugs: indices into [`DRUGS`], antibiotics first.
pub(crate) const ANTIBIOTICS: [usize; 3] = [8, 9, 10];
/// Other acute drugs.
pub(crate) const SYMPTOMATIC: [usize; 5] = [11, 12, 13, 14, 15];

/// A reason for a hospital stay: its ICD-10 code, a GHM (DRG) of the stay, who has it
/// (weights for children, adults, the elderly), who can (`sex`: 0 anyone, 1 men,
/// 2 women), its mean length in days and whether it is a cancer.
#[derive(Debug)]
pub(crate) struct Diagnosis {
    pub icd: &'static str,
    pub ghm: &'static str,
    pub weights: [u16; 3],
    pub sex: u8,
    pub days: f64,
    pub cancer: bool,
}

const fn dx(
    icd: &'static str,
    ghm: &'static str,
    weights: [u16; 3],
    sex: u8,
    days: f64,
) -> Diagnosis {
    Diagnosis {
        icd,
        ghm,
        weights,
        sex,
        days,
        cancer: false,
    }
}

const fn cancer(icd: &'static str, ghm: &'static str, weights: [u16; 3], sex: u8) -> Diagnosis {
    Diagnosis {
        icd,
        ghm,
        weights,
        sex,
        days: 6.0,
        cancer: true,
    }
}

/// Main diagnoses of stays (codes of `MS_CIM_V`).
pub(crate) const DIAGNOSES: [Diagnosis; 25] = [
    dx("J189", "04M052", [20, 40, 120], 0, 7.0),
    dx("J441", "04M202", [0, 20, 70], 0, 8.0),
    dx("I500", "05M092", [0, 15, 110], 0, 9.0),
    dx("I214", "05K062", [0, 30, 45], 0, 5.0),
    dx("I639", "01M302", [0, 20, 70], 0, 10.0),
    dx("I480", "05M122", [0, 15, 50], 0, 4.0),
    dx("S720", "08C472", [0, 5, 80], 0, 9.0),
    dx("N390", "11M042", [10, 20, 50], 0, 5.0),
    dx("K359", "06C092", [60, 40, 5], 0, 3.0),
    dx("K802", "07C141", [0, 40, 30], 0, 2.0),
    dx("O800", "14Z141", [0, 120, 0], 2, 4.0),
    dx("Z380", "15M05A", [150, 0, 0], 0, 3.0),
    dx("E119", "10M162", [0, 15, 30], 0, 5.0),
    dx("F100", "20Z021", [0, 30, 8], 0, 1.0),
    dx("R074", "05M172", [0, 35, 30], 0, 1.0),
    dx("M171", "08C241", [0, 15, 45], 0, 5.0),
    dx("H251", "02C051", [0, 5, 90], 0, 0.0),
    dx("K566", "06M082", [5, 10, 30], 0, 6.0),
    dx("A099", "06M111", [80, 15, 10], 0, 2.0),
    dx("J219", "04M181", [90, 0, 0], 0, 4.0),
    dx("S060", "01M251", [40, 20, 15], 0, 1.0),
    cancer("C341", "04M091", [0, 15, 35], 0),
    cancer("C509", "09C051", [0, 25, 25], 2),
    cancer("C189", "06C041", [0, 10, 30], 0),
    cancer("C61", "12C111", [0, 5, 35], 1),
];

/// Underlying causes of death (codes of `IR_CIM_V`): (code, weight among the
/// elderly, weight among others, and whether it follows a cancer).
pub(crate) const CAUSES: [(&str, u16, u16, bool); 16] = [
    ("C349", 60, 40, true),
    ("C189", 30, 15, true),
    ("C509", 25, 20, true),
    ("C61", 20, 3, true),
    ("C259", 20, 12, true),
    ("I219", 60, 30, false),
    ("I251", 45, 15, false),
    ("I64", 50, 8, false),
    ("I509", 60, 5, false),
    ("J449", 40, 8, false),
    ("G309", 50, 1, false),
    ("F03", 40, 1, false),
    ("E149", 25, 6, false),
    ("J189", 35, 6, false),
    ("W19", 20, 15, false),
    ("R99", 20, 20, false),
];

/// Associated causes written on certificates beside the underlying one.
pub(crate) const ASSOCIATED: [&str; 8] =
    ["I10", "E119", "N189", "I489", "J969", "R092", "I469", "E86"];
