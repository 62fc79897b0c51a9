//! OpenID Connect login: the authorization code flow with PKCE (S256), a state and a
//! nonce per attempt, each usable once and for ten minutes, and bound to the browser
//! that started it; the ID token's signature checked against the provider's published
//! keys, and its issuer, audience, expiry and nonce checked too. Pending attempts live
//! in memory only, bounded in number (see [`pending`]): their secrets are never
//! written anywhere.

mod pending;

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bastide_core::config::OidcSettings;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use pending::{MAX_PENDING, MAX_PER_CLIENT};
use pending::{Pending, PendingLogins};

/// The cookie that binds a login under way to the browser that started it.
pub const BROWSER_COOKIE: &str = "bastide_oidc";
/// How long the browser cookie lives, in seconds: as long as an attempt.
pub const BROWSER_COOKIE_SECONDS: u64 = pending::ATTEMPT.as_secs();

/// Why an OpenID Connect login failed. Messages never carry tokens or codes.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// No provider is configured.
    #[error(
        "OpenID Connect is not configured on this hub (set [oidc] issuer, client_id, client_secret, redirect_url)"
    )]
    NotConfigured,
    /// The state is unknown, used already, or too old.
    #[error("unknown, expired or already used login attempt (state); start again")]
    State,
    /// The callback came from another browser than the one that started the login.
    #[error(
        "this login was started in another browser (or its cookie was lost); start again from this browser"
    )]
    Browser,
    /// Too many logins are under way.
    #[error("too many logins are under way on this hub; try again in a few minutes")]
    Busy,
    /// The provider could not be reached or answered nonsense.
    #[error("the identity provider: {0}")]
    Provider(String),
    /// The ID token was refused.
    #[error("the ID token is refused: {0}")]
    Token(String),
}

/// What the ID token says about the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's subject.
    pub subject: String,
    /// The login name claim.
    pub username: String,
    /// The role names claimed.
    pub roles: Vec<String>,
}

/// A login started: where to send the browser, and the value it must keep (in the
/// [`BROWSER_COOKIE`]) to finish it.
#[derive(Debug)]
pub struct Started {
    /// The provider's authorization URL.
    pub url: String,
    /// The browser's secret for this login; only its hash is kept.
    pub browser: String,
}

/// The provider's endpoints, from its discovery document.
#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// OpenID Connect login for a hub.
pub struct Oidc {
    settings: Option<OidcSettings>,
    pending: Mutex<PendingLogins>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.settings.as_ref().map(|s| &s.issuer))
            .finish_non_exhaustive()
    }
}

fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Oidc {
    /// Login through `settings`' provider, if any.
    pub fn new(settings: Option<OidcSettings>) -> Self {
        Self {
            settings,
            pending: Mutex::new(PendingLogins::default()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
        }
    }

    fn settings(&self) -> Result<&OidcSettings, OidcError> {
        self.settings.as_ref().ok_or(OidcError::NotConfigured)
    }

    /// Whether a provider is configured.
    pub fn configured(&self) -> bool {
        self.settings.is_some()
    }

    /// Whether the browser reaches the hub over TLS (the redirect URL is `https`), so
    /// that cookies are sent over TLS only.
    pub fn over_tls(&self) -> bool {
        self.settings
            .as_ref()
            .is_some_and(|s| s.redirect_url.starts_with("https://"))
    }

    async fn discover(&self) -> Result<Discovery, OidcError> {
        let settings = self.settings()?;
        let url = format!("{}/.well-known/openid-configuration", settings.issuer);
        let discovery: Discovery = self.get_json(&url).await?;
        if discovery.issuer.trim_end_matches('/') != settings.issuer {
            return Err(OidcError::Provider(format!(
                "its discovery document names issuer {} instead of {}",
                discovery.issuer, settings.issuer
            )));
        }
        Ok(discovery)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let answer = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| OidcError::Provider(format!("cannot reach {url}: {e}")))?;
        if !answer.status().is_success() {
            return Err(OidcError::Provider(format!(
                "{url} answered {}",
                answer.status()
            )));
        }
        answer
            .json()
            .await
            .map_err(|e| OidcError::Provider(format!("{url}: {e}")))
    }

    /// Starts a login by `client`: the URL to send the browser to, and the secret the
    /// browser must bring back.
    pub async fn start(&self, client: Option<IpAddr>) -> Result<Started, OidcError> {
        let settings = self.settings()?;
        // Refused before the provider is asked anything: a flood costs it nothing.
        self.pending.lock().expect("pending logins").has_room()?;
        let discovery = self.discover().await?;
        let (state, nonce, verifier, browser) = (random(), random(), random(), random());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        self.pending.lock().expect("pending logins").insert(
            state.clone(),
            Pending::new(nonce.clone(), verifier, &browser, client),
        )?;
        let mut url = url::Url::parse(&discovery.authorization_endpoint)
            .map_err(|e| OidcError::Provider(format!("authorization endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &settings.client_id)
            .append_pair("redirect_uri", &settings.redirect_url)
            .append_pair("scope", "openid profile")
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(Started {
            url: url.into(),
            browser,
        })
    }

    /// Finishes a login: exchanges `code` for an ID token and checks it. A state is
    /// taken once: a replayed callback is refused, and so is a callback whose `browser`
    /// secret (its cookie) is not the one the login was started with. `iss`, the issuer
    /// the callback names (RFC 9207), must be ours when given.
    pub async fn finish(
        &self,
        code: &str,
        state: &str,
        browser: Option<&str>,
        iss: Option<&str>,
    ) -> Result<Identity, OidcError> {
        let pending = self
            .pending
            .lock()
            .expect("pending logins")
            .take(state, browser)?;
        let settings = self.settings()?;
        if iss.is_some_and(|iss| iss.trim_end_matches('/') != settings.issuer) {
            return Err(OidcError::Provider(
                "the callback names another issuer than this hub's".into(),
            ));
        }
        let discovery = self.discover().await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", settings.redirect_url.as_str()),
            ("client_id", settings.client_id.as_str()),
            ("client_secret", settings.client_secret.expose_secret()),
            ("code_verifier", pending.verifier.as_str()),
        ];
        let answer = self
            .http
            .post(&discovery.token_endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| OidcError::Provider(format!("token endpoint: {e}")))?;
        if !answer.status().is_success() {
            return Err(OidcError::Provider(format!(
                "the token endpoint refused the code ({})",
                answer.status()
            )));
        }
        #[derive(Deserialize)]
        struct Tokens {
            id_token: String,
        }
        let tokens: Tokens = answer
            .json()
            .await
            .map_err(|e| OidcError::Provider(format!("token endpoint: {e}")))?;
        self.check(&discovery, &tokens.id_token, &pending.nonce)
            .await
    }

    /// Checks an ID token: signature by one of the provider's keys, issuer, audience
    /// (this hub's client id), expiry (no leeway) and nonce.
    pub async fn verify(&self, id_token: &str, nonce: &str) -> Result<Identity, OidcError> {
        let discovery = self.discover().await?;
        self.check(&discovery, id_token, nonce).await
    }

    async fn check(
        &self,
        discovery: &Discovery,
        id_token: &str,
        nonce: &str,
    ) -> Result<Identity, OidcError> {
        let settings = self.settings()?;
        let keys: JwkSet = self.get_json(&discovery.jwks_uri).await?;
        let header = decode_header(id_token).map_err(|e| OidcError::Token(e.to_string()))?;
        if !matches!(
            header.alg,
            jsonwebtoken::Algorithm::RS256
                | jsonwebtoken::Algorithm::RS384
                | jsonwebtoken::Algorithm::RS512
                | jsonwebtoken::Algorithm::PS256
                | jsonwebtoken::Algorithm::ES256
                | jsonwebtoken::Algorithm::ES384
                | jsonwebtoken::Algorithm::EdDSA
        ) {
            return Err(OidcError::Token(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let jwk = match &header.kid {
            Some(kid) => keys.find(kid),
            None => keys.keys.first(),
        }
        .ok_or_else(|| OidcError::Token("signed by a key the provider does not publish".into()))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| OidcError::Token(e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = 0;
        validation.set_audience(&[settings.client_id.as_str()]);
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = decode::<serde_json::Value>(id_token, &key, &validation)
            .map_err(|e| OidcError::Token(e.to_string()))?
            .claims;
        if claims["nonce"].as_str() != Some(nonce) {
            return Err(OidcError::Token("its nonce is not this login's".into()));
        }
        let text = |name: &str| claims[name].as_str().map(str::to_owned);
        let subject = text("sub").ok_or_else(|| OidcError::Token("no subject".into()))?;
        let username = text(&settings.username_claim).ok_or_else(|| {
            OidcError::Token(format!(
                "no `{}` claim (oidc.username_claim)",
                settings.username_claim
            ))
        })?;
        let roles = match &claims[settings.roles_claim.as_str()] {
            serde_json::Value::Array(values) => values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            serde_json::Value::String(one) => vec![one.clone()],
            _ => Vec::new(),
        };
        Ok(Identity {
            subject,
            username,
            roles,
        })
    }
}
