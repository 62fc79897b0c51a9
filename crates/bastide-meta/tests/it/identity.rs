//! Users and tokens as stored, on both backends.

use bastide_meta::{Error, TokenRecord, UserRecord};

use crate::{Db, on_both_backends};

fn user(id: &str, name: &str) -> UserRecord {
    UserRecord {
        id: id.into(),
        name: name.into(),
        display_name: name.into(),
        roles: vec!["steward".into(), "auditor".into()],
        password_hash: Some("$argon2id$…".into()),
        oidc_subject: None,
        totp_required: false,
        failed_logins: 0,
        locked_until: None,
        disabled_at: None,
        created_at: 10,
        totp_sealed: None,
        totp_confirmed: false,
        totp_last_step: None,
    }
}

on_both_backends!(
    users_and_tokens_round_trip_and_names_are_unique,
    |db: Db| async move {
        let store = db.store().await;
        let users = store.users();
        users.insert(&user("u-1", "alice")).await.unwrap();
        assert!(matches!(
            users.insert(&user("u-2", "alice")).await,
            Err(Error::UserExists { .. })
        ));
        // Two attempts admitted; the second reaches the limit and locks until 99.
        assert_eq!(users.admit_login("u-1", 10, 2, 99).await.unwrap(), Some(1));
        assert_eq!(users.admit_login("u-1", 10, 2, 99).await.unwrap(), Some(2));
        assert_eq!(
            users.admit_login("u-1", 50, 2, 199).await.unwrap(),
            None,
            "locked: not admitted, not counted"
        );
        let stored = users.by_name("alice").await.unwrap().unwrap();
        assert_eq!((stored.failed_logins, stored.locked_until), (2, Some(99)));
        assert_eq!(stored.roles, ["steward", "auditor"]);
        users.logged_in("u-1").await.unwrap();
        assert!(users.disable("u-1", 50).await.unwrap());
        assert!(!users.disable("u-1", 60).await.unwrap(), "once");
        let stored = users.by_id("u-1").await.unwrap().unwrap();
        assert_eq!(
            (
                stored.failed_logins,
                stored.locked_until,
                stored.disabled_at
            ),
            (0, None, Some(50))
        );

        let tokens = store.tokens();
        let token = TokenRecord {
            id: "t1".into(),
            user_id: "u-1".into(),
            project_id: None,
            name: "ci".into(),
            secret_sha256: "ab".repeat(32),
            created_at: 1,
            expires_at: 100,
            revoked_at: None,
            last_used_at: None,
        };
        tokens.insert(&token).await.unwrap();
        tokens.used("t1", 5).await.unwrap();
        assert!(tokens.revoke("t1", 6).await.unwrap());
        assert!(!tokens.revoke("t1", 7).await.unwrap());
        let stored = tokens.get("t1").await.unwrap().unwrap();
        assert_eq!((stored.last_used_at, stored.revoked_at), (Some(5), Some(6)));
        assert_eq!(tokens.of_user("u-1").await.unwrap().len(), 1);

        users.set_totp("u-1", "dk-1:sealed").await.unwrap();
        users.confirm_totp("u-1").await.unwrap();
        assert!(users.use_totp_step("u-1", 100).await.unwrap());
        assert!(
            !users.use_totp_step("u-1", 100).await.unwrap(),
            "a step is used once"
        );
        assert!(users.use_totp_step("u-1", 101).await.unwrap());
        let stored = users.by_id("u-1").await.unwrap().unwrap();
        assert_eq!(
            (
                stored.totp_confirmed,
                stored.totp_required,
                stored.totp_last_step
            ),
            (true, true, Some(101))
        );
        users.reset_totp("u-1").await.unwrap();
        let stored = users.by_id("u-1").await.unwrap().unwrap();
        assert_eq!(
            (
                stored.totp_sealed,
                stored.totp_confirmed,
                stored.totp_required
            ),
            (None, false, false)
        );

        let sessions = store.sessions();
        let session = bastide_meta::SessionRecord {
            id_sha256: "s".repeat(64),
            user_id: "u-1".into(),
            csrf_sha256: "c".repeat(64),
            created_at: 1,
            expires_at: 100,
        };
        sessions.insert(&session).await.unwrap();
        assert_eq!(
            sessions.get(&session.id_sha256).await.unwrap(),
            Some(session.clone())
        );
        assert_eq!(sessions.sweep(50).await.unwrap(), 0, "not expired yet");
        assert_eq!(sessions.sweep(100).await.unwrap(), 1, "expired");
        sessions.insert(&session).await.unwrap();
        sessions.delete(&session.id_sha256, 2).await.unwrap();
        assert_eq!(sessions.get(&session.id_sha256).await.unwrap(), None);
    }
);
