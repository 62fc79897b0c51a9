//! The demonstration's people: one account per role (their generated passwords kept in
//! `demo-accounts.txt` in the data folder, readable by the operator only, and printed
//! at every start) and a project of the researcher's with an aggregate-only permit
//! granted by the steward, and a few columns open to feasibility counts, so that a
//! newcomer walks every role's path at once. Each
//! step goes through the hub's use cases, as the operator acting for each person, and
//! is recorded in the audit log like any other.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use bastide_access::{
    Application, Filter, Grant, Mode, NewUser, PermitTable, RequestedTable, Scalar,
    State as ProjectState,
};
use bastide_hub::FIRST_ADMIN;
use bastide_hub::{Decision, Hub};

use super::demo::DATASET;

/// The accounts: name, role, and where each starts in the web interface.
const PEOPLE: [(&str, &str, &str); 5] = [
    (
        "researcher",
        "researcher",
        "/projects: the demo project, its SQL console, release requests",
    ),
    (
        "steward",
        "steward",
        "/review: applications, permits, release reviews, opt-outs, access review",
    ),
    (
        "reviewer",
        "steward",
        "/review: the second reviewer a release request needs",
    ),
    (
        "auditor",
        "auditor",
        "/audit: the audit log, its verification, alerts",
    ),
    (
        FIRST_ADMIN,
        "admin",
        "/admin: users, tokens, keys and storage",
    ),
];

/// The file of the accounts' passwords.
pub fn accounts_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("demo-accounts.txt")
}

/// What [`ensure`] did with the accounts.
pub struct Accounts {
    /// The accounts file's text.
    pub text: String,
    /// Whether accounts were created in this run (their passwords are then printed).
    pub created: bool,
}

/// Creates the accounts and the project the first time; afterwards leaves them as
/// they are. `first_admin` is the password `init` generated for the first
/// administrator, when this run created the hub. Each account's line is written to the
/// file as soon as it is created, so that an interrupted run loses no password; the
/// next run creates the accounts still missing.
pub async fn ensure(
    hub: &Hub,
    data_dir: &Path,
    first_admin: Option<&str>,
) -> anyhow::Result<Accounts> {
    let path = accounts_file(data_dir);
    let operator = hub.operator();
    let existing: Vec<String> = hub
        .users(&operator)
        .await?
        .into_iter()
        .map(|u| u.name)
        .collect();
    let new_file = !path.exists();
    let mut file = open_private(&path)?;
    let mut append = |line: String| -> anyhow::Result<()> {
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .with_context(|| format!("cannot write {}", path.display()))
    };
    if new_file {
        append("# Bastide demonstration accounts: sign in at /sign-in (this file is readable by the operator only)\n".into())?;
    }
    let mut created = false;
    // The first administrator's line first: `init` showed its password once.
    let mut people = PEOPLE;
    people.sort_by_key(|(name, _, _)| *name != FIRST_ADMIN);
    for (name, role, starts) in people {
        if let (Some(password), true) = (first_admin, name == FIRST_ADMIN) {
            append(format!("{name:<11} {password}  {starts}\n"))?;
            created = true;
            continue;
        }
        if existing.iter().any(|e| e == name) {
            if new_file {
                append(format!(
                    "{name:<11} (created earlier; its password was not kept) {starts}\n"
                ))?;
            }
            continue;
        }
        let new = NewUser {
            name: name.to_owned(),
            display_name: None,
            roles: vec![role.to_owned()],
            password: None,
        };
        let (_, password) = hub.create_user(&operator, new).await?;
        let password = password.context("the hub generated no password")?;
        append(format!("{name:<11} {password}  {starts}\n"))?;
        created = true;
    }
    ensure_project(hub).await?;
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Accounts { text, created })
}

/// The demonstration project's title.
const TITLE: &str = "Care use by age and sex (demonstration)";

/// The researcher's project, approved and under an aggregate-only permit: made, or
/// taken on from where an interrupted run left it.
async fn ensure_project(hub: &Hub) -> anyhow::Result<()> {
    let researcher = hub.acting_as("researcher").await?;
    let steward = hub.acting_as("steward").await?;
    let found = hub
        .projects(&researcher)
        .await?
        .into_iter()
        .find(|p| p.application.title == TITLE);
    let project = match found {
        Some(project) => project,
        None => hub.apply(&researcher, application()).await?,
    };
    let id = bastide_core::ids::ProjectId::parse(&project.id)?;
    let mut state = project.state;
    if state == ProjectState::Draft {
        state = hub
            .decide(&researcher, &id, Decision::Submit, "")
            .await?
            .state;
    }
    if state == ProjectState::Submitted {
        state = hub
            .decide(&steward, &id, Decision::Approve, "demonstration")
            .await?
            .state;
    }
    if state == ProjectState::Approved {
        hub.grant(&steward, &id, grant()).await?;
        // A few columns open to feasibility counts, for anyone with an account.
        let open = vec![bastide_access::OpenTable {
            name: "IR_BEN_R".into(),
            columns: ["BEN_SEX_COD", "BEN_NAI_ANN", "BEN_RES_DPT"]
                .map(str::to_owned)
                .to_vec(),
        }];
        let dataset = bastide_core::ids::DatasetName::parse(DATASET)?;
        hub.open_to_feasibility(&steward, &dataset, open).await?;
    }
    Ok(())
}

/// What the researcher applies for.
fn application() -> Application {
    let tables = ["IR_BEN_R", "ER_PRS_F"];
    Application {
        title: TITLE.into(),
        purpose: "Describe how often people of each age band and sex see a doctor, to try Bastide's workspace.".into(),
        legal_basis: "GDPR art. 6(1)(e) and 9(2)(j); EHDS art. 53".into(),
        organisation: "Bastide demonstration".into(),
        dataset: DATASET.into(),
        tables: tables
            .iter()
            .map(|t| RequestedTable {
                name: (*t).into(),
                columns: Vec::new(),
                rows: "all".into(),
            })
            .collect(),
        duration_days: 365,
    }
}

/// What the steward grants: aggregates only, a few columns of two tables.
fn grant() -> Grant {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let columns = |names: &[&str]| names.iter().map(|c| (*c).to_owned()).collect();
    Grant {
        dataset: DATASET.into(),
        tables: vec![
            PermitTable {
                name: "IR_BEN_R".into(),
                columns: columns(&["BEN_NIR_PSA", "BEN_SEX_COD", "BEN_NAI_ANN", "BEN_RES_DPT"]),
                filters: Vec::new(),
            },
            PermitTable {
                name: "ER_PRS_F".into(),
                columns: columns(&[
                    "BEN_NIR_PSA",
                    "BEN_SEX_COD",
                    "BEN_NAI_ANN",
                    "EXE_SOI_DTD",
                    "PRS_NAT_REF",
                    "PRS_ACT_QTE",
                ]),
                filters: vec![Filter::Between {
                    column: "EXE_SOI_DTD".into(),
                    low: Scalar::Text("2021-01-01".into()),
                    high: Scalar::Text("2023-12-31".into()),
                }],
            },
        ],
        members: vec!["researcher".into()],
        starts_at: now - 60,
        expires_at: now + 365 * 86_400,
        mode: Mode::AggregateOnly,
    }
}

/// `path` opened to append, readable and writable by its owner only (made so if it
/// was not).
fn open_private(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make {} private", path.display()))?;
    Ok(file)
}
