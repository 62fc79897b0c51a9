//! Projects and permits: the lifecycle, who may move it, what a permit may name, and
//! the scope a checked permit gives.

use bastide_access::{
    Accounts, Application, Error, Filter, Grant, Mode, NewUser, PermitCheck, PermitDenied,
    PermitTable, Permits, Principal, Projects, RequestedTable, Scalar, State,
};
use bastide_meta::{MetaStore, TableRecord};

use crate::{admin, store};

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

async fn user(meta: &MetaStore, name: &str, role: &str) -> Principal {
    let new = NewUser {
        name: name.into(),
        display_name: None,
        roles: vec![role.into()],
        password: Some("a long enough secret".into()),
    };
    Accounts::new(meta)
        .create(&admin(), new, NOW)
        .await
        .unwrap();
    Accounts::new(meta)
        .login(name, "a long enough secret", NOW)
        .await
        .unwrap()
}

async fn dataset(meta: &MetaStore) {
    meta.datasets().ensure("snds", NOW).await.unwrap();
    let schema = r#"{"fields": [
        {"name": "BEN_NIR_PSA", "type": "string"},
        {"name": "BEN_NAI_ANN", "type": "year"},
        {"name": "BEN_SEX_COD", "type": "integer"},
        {"name": "BEN_DCD_DTE", "type": "date"}]}"#;
    let table = TableRecord {
        name: "IR_BEN_R".into(),
        schema_json: schema.into(),
        identifiers: vec!["BEN_NIR_PSA".into()],
        reference: false,
    };
    meta.datasets()
        .add_table("snds", &table, NOW)
        .await
        .unwrap();
}

fn application() -> Application {
    Application {
        title: "Statins and dementia".into(),
        purpose: "Does long-term statin use change the risk of dementia?".into(),
        legal_basis: "GDPR 6(1)(e), 9(2)(j)".into(),
        organisation: "Université de Bordeaux".into(),
        dataset: "snds".into(),
        tables: vec![RequestedTable {
            name: "IR_BEN_R".into(),
            columns: vec![],
            rows: "born before 1960".into(),
        }],
        duration_days: 365,
    }
}

fn grant(members: &[&str]) -> Grant {
    Grant {
        dataset: "snds".into(),
        tables: vec![PermitTable {
            name: "IR_BEN_R".into(),
            columns: vec!["BEN_NIR_PSA".into(), "BEN_NAI_ANN".into()],
            filters: vec![Filter::Between {
                column: "BEN_NAI_ANN".into(),
                low: Scalar::Number(1900.0),
                high: Scalar::Number(1959.0),
            }],
        }],
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        starts_at: NOW,
        expires_at: NOW + 30 * DAY,
        mode: Mode::AggregateOnly,
    }
}

fn refused<T: std::fmt::Debug>(result: Result<T, Error>, expected: &str) {
    let error = result.unwrap_err().to_string();
    assert!(error.contains(expected), "{error}");
}

#[tokio::test]
async fn a_project_goes_from_draft_to_closed_and_only_approved_ones_are_public() {
    let (_dir, meta) = store().await;
    dataset(&meta).await;
    let rita = user(&meta, "rita", "researcher").await;
    let stella = user(&meta, "stella", "steward").await;
    let projects = Projects::new(&meta);
    let draft = projects.create(&rita, application(), NOW).await.unwrap();
    assert_eq!(
        (draft.state, draft.members.clone()),
        (State::Draft, vec!["rita".to_owned()])
    );
    assert!(
        projects.registry().await.unwrap().is_empty(),
        "drafts are not public"
    );

    projects.submit(&rita, &draft.id, NOW + 1).await.unwrap();
    let approved = projects
        .approve(&stella, &draft.id, "sound protocol", NOW + 2)
        .await
        .unwrap();
    assert_eq!(approved.state, State::Approved);
    let registry = projects.registry().await.unwrap();
    assert_eq!(registry.len(), 1);
    assert_eq!(registry[0].approved_at, Some(NOW + 2));
    assert_eq!(registry[0].organisation, "Université de Bordeaux");

    let permit = Permits::new(&meta)
        .grant(&stella, &draft.id, grant(&["rita"]), NOW + 3)
        .await
        .unwrap();
    assert_eq!(permit.version, 1);
    assert_eq!(
        projects.get(&rita, &draft.id).await.unwrap().state,
        State::Active
    );
    let closed = projects
        .close(&stella, &draft.id, "done", NOW + 4)
        .await
        .unwrap();
    assert_eq!(closed.state, State::Closed);
    let steps: Vec<(String, State)> = closed
        .history
        .iter()
        .map(|s| (s.actor.clone(), s.to))
        .collect();
    assert_eq!(
        steps,
        [
            ("rita".into(), State::Draft),
            ("rita".into(), State::Submitted),
            ("stella".into(), State::Approved),
            ("stella".into(), State::Active),
            ("stella".into(), State::Closed)
        ]
    );
    assert!(
        matches!(
            Permits::new(&meta).check(&rita, &draft.id, NOW + 5).await,
            Err(PermitCheck::Denied(PermitDenied::NoPermit(_)))
        ),
        "closing revokes the permit"
    );
    refused(
        projects.approve(&stella, &draft.id, "", NOW + 6).await,
        "is closed",
    );
}

#[tokio::test]
async fn nobody_approves_their_own_project_and_only_stewards_decide() {
    let (_dir, meta) = store().await;
    dataset(&meta).await;
    let rita = user(&meta, "rita", "researcher").await;
    let sam = user(&meta, "sam", "steward").await;
    let other = user(&meta, "olga", "researcher").await;
    let projects = Projects::new(&meta);
    let project = projects.create(&rita, application(), NOW).await.unwrap();
    projects
        .add_member(&rita, &project.id, "sam", NOW)
        .await
        .unwrap();
    refused(
        projects.submit(&other, &project.id, NOW).await,
        "no project",
    );
    projects.submit(&rita, &project.id, NOW).await.unwrap();
    refused(
        projects.approve(&sam, &project.id, "", NOW).await,
        "another steward must approve",
    );
    refused(
        projects.approve(&rita, &project.id, "", NOW).await,
        "steward role",
    );
    refused(
        Permits::new(&meta)
            .grant(&sam, &project.id, grant(&["rita"]), NOW)
            .await,
        "another steward must grant",
    );
    refused(
        projects.submit(&rita, &project.id, NOW).await,
        "is submitted, not draft",
    );
}

#[tokio::test]
async fn a_permit_naming_what_does_not_exist_or_filters_that_contradict_is_refused() {
    let (_dir, meta) = store().await;
    dataset(&meta).await;
    let rita = user(&meta, "rita", "researcher").await;
    let stella = user(&meta, "stella", "steward").await;
    let projects = Projects::new(&meta);
    let project = projects.create(&rita, application(), NOW).await.unwrap();
    let permits = Permits::new(&meta);
    refused(
        permits
            .grant(&stella, &project.id, grant(&["rita"]), NOW)
            .await,
        "approved or active",
    );
    projects.submit(&rita, &project.id, NOW).await.unwrap();
    projects
        .approve(&stella, &project.id, "", NOW)
        .await
        .unwrap();

    let with = |change: &dyn Fn(&mut Grant)| {
        let mut g = grant(&["rita"]);
        change(&mut g);
        g
    };
    let cases: Vec<(Grant, &str)> = vec![
        (
            with(&|g| g.tables[0].name = "ER_XYZ_F".into()),
            "no table ER_XYZ_F",
        ),
        (
            with(&|g| g.tables[0].columns.push("NIR_CLEAR".into())),
            "no column NIR_CLEAR",
        ),
        (with(&|g| g.dataset = "nope".into()), "no dataset nope"),
        (
            with(&|g| g.members = vec!["olga".into()]),
            "olga is not a member",
        ),
        (
            with(&|g| g.expires_at = g.starts_at),
            "expire after it starts",
        ),
        (
            with(&|g| {
                g.tables[0].filters = vec![Filter::Between {
                    column: "BEN_NAI_ANN".into(),
                    low: Scalar::Number(1980.0),
                    high: Scalar::Number(1950.0),
                }]
            }),
            "low bound is above",
        ),
        (
            with(&|g| {
                g.tables[0].filters = vec![
                    Filter::Equals {
                        column: "BEN_SEX_COD".into(),
                        value: Scalar::Number(1.0),
                    },
                    Filter::Equals {
                        column: "BEN_SEX_COD".into(),
                        value: Scalar::Number(2.0),
                    },
                ]
            }),
            "no value passes all",
        ),
        (
            with(&|g| {
                g.tables[0].filters = vec![
                    Filter::Between {
                        column: "BEN_NAI_ANN".into(),
                        low: Scalar::Number(1900.0),
                        high: Scalar::Number(1940.0),
                    },
                    Filter::In {
                        column: "BEN_NAI_ANN".into(),
                        values: vec![Scalar::Number(1950.0)],
                    },
                ]
            }),
            "no value passes all",
        ),
        (
            with(&|g| {
                g.tables[0].filters = vec![Filter::In {
                    column: "BEN_SEX_COD".into(),
                    values: vec![],
                }]
            }),
            "empty list",
        ),
        (
            with(&|g| {
                g.tables[0].filters = vec![Filter::Equals {
                    column: "BEN_SEX_COD".into(),
                    value: Scalar::Text("1".into()),
                }]
            }),
            "holds numbers",
        ),
    ];
    for (bad, expected) in cases {
        refused(
            permits.grant(&stella, &project.id, bad, NOW).await,
            expected,
        );
    }
    permits
        .grant(&stella, &project.id, grant(&["rita"]), NOW)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_checked_permit_gives_its_scope_to_members_in_its_period_only() {
    let (_dir, meta) = store().await;
    dataset(&meta).await;
    let rita = user(&meta, "rita", "researcher").await;
    let stella = user(&meta, "stella", "steward").await;
    let projects = Projects::new(&meta);
    let project = projects.create(&rita, application(), NOW).await.unwrap();
    projects
        .add_member(&rita, &project.id, "olga", NOW)
        .await
        .unwrap_err();
    let olga = user(&meta, "olga", "researcher").await;
    projects
        .add_member(&rita, &project.id, "olga", NOW)
        .await
        .unwrap();
    projects.submit(&rita, &project.id, NOW).await.unwrap();
    projects
        .approve(&stella, &project.id, "", NOW)
        .await
        .unwrap();
    let permits = Permits::new(&meta);
    permits
        .grant(&stella, &project.id, grant(&["rita"]), NOW)
        .await
        .unwrap();

    let scope = permits.check(&rita, &project.id, NOW + DAY).await.unwrap();
    assert_eq!(
        (scope.project(), scope.user(), scope.dataset()),
        (project.id.as_str(), "rita", "snds")
    );
    assert_eq!(scope.tables()[0].columns, ["BEN_NIR_PSA", "BEN_NAI_ANN"]);
    assert_eq!(scope.mode(), Mode::AggregateOnly);

    let denied = |r: Result<_, PermitCheck>| match r {
        Err(PermitCheck::Denied(d)) => d,
        other => panic!("expected a denial, got {other:?}"),
    };
    assert!(matches!(
        denied(permits.check(&olga, &project.id, NOW + DAY).await),
        PermitDenied::NotMember(_)
    ));
    assert!(matches!(
        denied(permits.check(&rita, &project.id, NOW - 1).await),
        PermitDenied::NotYet(_)
    ));
    assert!(matches!(
        denied(permits.check(&rita, &project.id, NOW + 31 * DAY).await),
        PermitDenied::Expired(_)
    ));
    let tokens = bastide_access::Tokens::new(&meta);
    let issued = tokens
        .create(rita.name(), "other", Some("p-other"), 30, NOW)
        .await
        .unwrap();
    let bound = tokens.authenticate(&issued.secret, NOW + 1).await.unwrap();
    assert!(matches!(
        denied(permits.check(&bound, &project.id, NOW + DAY).await),
        PermitDenied::OtherProject(_)
    ));

    let review = permits
        .review(&Principal::operator().oversight().unwrap(), NOW + DAY)
        .await
        .unwrap();
    assert_eq!(review.len(), 1);
    assert_eq!(
        (
            review[0].user.as_str(),
            review[0].table.as_str(),
            review[0].until
        ),
        ("rita", "IR_BEN_R", NOW + 30 * DAY)
    );

    // A new version replaces the old; revoking ends it at once.
    let second = permits
        .grant(&stella, &project.id, grant(&["rita", "olga"]), NOW + 2)
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    permits.check(&olga, &project.id, NOW + DAY).await.unwrap();
    permits.revoke(&stella, &project.id, NOW + 3).await.unwrap();
    assert!(matches!(
        denied(permits.check(&rita, &project.id, NOW + DAY).await),
        PermitDenied::NoPermit(_)
    ));
    assert!(
        permits
            .review(&Principal::operator().oversight().unwrap(), NOW + DAY)
            .await
            .unwrap()
            .is_empty()
    );
}
