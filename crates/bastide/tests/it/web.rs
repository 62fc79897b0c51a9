//! The web interface in a real browser: Debian's chromium driven by npm's
//! playwright-core (`tests/browser/*.cjs`), against a hub on loopback. Screenshots are
//! kept in `$CARGO_TARGET_TMPDIR/web/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::workspace::Workspace;

/// Where `scripts/test` installs playwright-core and axe-core.
fn npm() -> PathBuf {
    let path = std::env::var("BROWSER_TESTS_NPM")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/bastide/npm")
        });
    assert!(
        path.join("node_modules/playwright-core").exists()
            && path.join("node_modules/axe-core").exists(),
        "playwright-core and axe-core are missing from {}: run scripts/test, or npm install --prefix {} playwright-core@1 axe-core@4",
        path.display(),
        path.display()
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "chromium is missing: run scripts/test, or apt-get install chromium"
    );
    path
}

/// Runs the browser script `name` with `args`; its failures.
fn browse(name: &str, args: &[&str]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser")
        .join(name);
    let output = Command::new("node")
        .arg(&script)
        .args(args)
        .env("BROWSER_TESTS_NPM", npm())
        .output()
        .expect("node is missing: run scripts/test, or apt-get install nodejs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "{name} printed no report: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap_or_default().to_owned())
        .collect()
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_public_pages_work_in_a_browser_in_both_languages_and_ask_nothing_elsewhere() {
    let ws = Workspace::new("aggregate_only");
    let hub = ws.serve(&[], &[]);
    let base = hub.url("");
    let base = base.trim_end_matches('/');
    let shots = screenshots();
    let failures = browse(
        "public.cjs",
        &[base, shots.to_str().unwrap(), "Births by sex"],
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(shots.join("catalogue.png").exists());
}

#[test]
fn a_person_signs_in_sees_their_projects_and_signs_out_in_a_browser() {
    let ws = Workspace::new("aggregate_only");
    let password_file = ws.tmp.path().join("wendy.password");
    std::fs::write(&password_file, "a long enough password for wendy").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    crate::run_json(
        &[
            "--json",
            "user",
            "add",
            "wendy",
            "--role",
            "researcher",
            "--password-file",
            password_file.to_str().unwrap(),
            "--data-dir",
            &ws.dir,
        ],
        &[("BASTIDE_KEYRING_PASSPHRASE", crate::PASSPHRASE)],
    );
    let hub = ws.serve(&[], &[]);
    let base = hub.url("");
    let shots = screenshots();
    let failures = browse(
        "signin.cjs",
        &[
            base.trim_end_matches('/'),
            shots.to_str().unwrap(),
            "wendy",
            "a long enough password for wendy",
        ],
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_role_walks_the_whole_chain_in_a_browser_on_the_demo() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let hub = test_support::HubProcess::spawn(
        crate::bastide(),
        &[
            "demo",
            "--data-dir",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--beneficiaries",
            "150",
        ],
        &[],
    );
    let accounts = dir.join("demo-accounts.txt");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&accounts).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the demo accounts are for the operator only"
        );
    }
    let base = hub.url("");
    let shots = screenshots();
    let failures = browse(
        "journey.cjs",
        &[
            base.trim_end_matches('/'),
            shots.to_str().unwrap(),
            accounts.to_str().unwrap(),
        ],
    );
    assert!(failures.is_empty(), "{failures:#?}");
    for shot in [
        "console.png",
        "permit.png",
        "release.png",
        "audit.png",
        "admin.png",
    ] {
        assert!(shots.join(shot).exists(), "{shot}");
    }
}

#[test]
fn a_person_signs_in_through_the_identity_provider_in_a_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let listen = test_support::free_port();
    let redirect = format!("http://{listen}/api/v1/auth/oidc/callback");
    let provider = test_support::OidcProvider::start(&redirect, 60);
    let env = [
        ("BASTIDE_KEYRING_PASSPHRASE", crate::PASSPHRASE),
        ("BASTIDE_OIDC__ISSUER", provider.issuer.as_str()),
        ("BASTIDE_OIDC__CLIENT_ID", "bastide"),
        ("BASTIDE_OIDC__CLIENT_SECRET", "bastide-secret"),
        ("BASTIDE_OIDC__REDIRECT_URL", redirect.as_str()),
    ];
    assert!(crate::run(&["init", "--data-dir", dir], &env).success());
    let listen = listen.to_string();
    let hub = test_support::HubProcess::spawn(
        crate::bastide(),
        &["serve", "--data-dir", dir, "--listen", &listen],
        &env,
    );
    let base = hub.url("");
    let failures = browse("oidc.cjs", &[base.trim_end_matches('/'), &provider.issuer]);
    assert!(failures.is_empty(), "{failures:#?}");
}
