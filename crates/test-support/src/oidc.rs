//! A real OpenID Connect provider, npm `oidc-provider` under Node, on a free loopback
//! port. The test script installs the package into `~/.cache/bastide/npm`; without it
//! (or without Node) the test fails with the command that installs them.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The provider's script, written next to nothing: it imports the package by path.
const SCRIPT: &str = include_str!("oidc_provider.mjs");

/// A running provider, stopped on drop. Clients `bastide` and `another-app` (secrets
/// `<id>-secret`); accounts `rita` (researcher), `stella` (steward), `nobody` (no
/// role); every login is accepted at once for the account in `login_hint`.
pub struct OidcProvider {
    child: Child,
    /// Its issuer URL.
    pub issuer: String,
    _dir: tempfile::TempDir,
}

fn package() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
        });
    cache.join("bastide/npm/node_modules/oidc-provider/lib/index.js")
}

impl OidcProvider {
    /// Starts a provider that redirects to `redirect_uri` and issues ID tokens living
    /// `id_token_seconds`.
    pub fn start(redirect_uri: &str, id_token_seconds: u32) -> Self {
        let module = package();
        assert!(
            module.is_file(),
            "npm oidc-provider is missing: run scripts/test, or `npm install --prefix ~/.cache/bastide/npm oidc-provider@9`"
        );
        let dir = tempfile::tempdir().expect("a temporary folder");
        let script = dir.path().join("provider.mjs");
        std::fs::write(&script, SCRIPT).expect("write the provider's script");
        let port = crate::free_port().port();
        let mut child = Command::new("node")
            .arg(&script)
            .arg(&module)
            .arg(port.to_string())
            .arg(redirect_uri)
            .arg(id_token_seconds.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run node ({e}): install it (apt-get install nodejs npm)")
            });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        match lines.next() {
            Some(Ok(line)) if line.starts_with("listening") => {}
            other => {
                let _ = child.kill();
                panic!("the OpenID Connect provider did not start: {other:?}");
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OidcProvider {
    /// Follows redirects from `url` through the provider, as a browser would (cookies
    /// kept), until one leaves it; returns that URL (the callback with its code).
    pub async fn follow(&self, url: &str) -> String {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let mut cookies: Vec<(String, String)> = Vec::new();
        let mut url = url.to_owned();
        for _ in 0..10 {
            let mut request = client.get(&url);
            if !cookies.is_empty() {
                let header: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
                request = request.header("cookie", header.join("; "));
            }
            let answer = request.send().await.expect("the provider answers");
            for value in answer.headers().get_all("set-cookie") {
                let pair = value
                    .to_str()
                    .unwrap_or_default()
                    .split(';')
                    .next()
                    .unwrap_or_default();
                if let Some((name, value)) = pair.split_once('=') {
                    cookies.retain(|(n, _)| n != name);
                    cookies.push((name.to_owned(), value.to_owned()));
                }
            }
            let location = answer
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .unwrap_or_else(|| panic!("no redirect from {url}: {}", answer.status()))
                .to_owned();
            let next = if location.starts_with('/') {
                format!("{}{location}", self.issuer)
            } else {
                location
            };
            if !next.starts_with(&self.issuer) {
                return next;
            }
            url = next;
        }
        panic!("the provider kept redirecting")
    }

    /// Runs the whole code flow for `client_id` as `account` and returns the ID token
    /// the token endpoint gives, with the nonce it carries.
    pub async fn id_token(
        &self,
        client_id: &str,
        redirect_uri: &str,
        account: &str,
    ) -> (String, String) {
        use base64::Engine;
        use sha2::Digest;
        let verifier = "a-verifier-of-at-least-forty-three-characters-long";
        let challenge =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
        let nonce = format!("nonce-{account}");
        let mut start = reqwest::Url::parse(&format!("{}/auth", self.issuer)).expect("a URL");
        start
            .query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", "s")
            .append_pair("nonce", &nonce)
            .append_pair("login_hint", account)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let callback =
            reqwest::Url::parse(&self.follow(start.as_str()).await).expect("a callback URL");
        let code = callback
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code");
        let secret = format!("{client_id}-secret");
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("client_secret", secret.as_str()),
            ("code_verifier", verifier),
        ];
        let tokens: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .form(&form)
            .send()
            .await
            .expect("the token endpoint answers")
            .json()
            .await
            .expect("tokens");
        (
            tokens["id_token"].as_str().expect("an ID token").to_owned(),
            nonce,
        )
    }
}
