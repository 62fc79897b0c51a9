//! The HTTP API served in-process on a free port, over a hub in a temporary folder.

mod alerts;
mod audit;
mod catalogue;
mod datasets;
mod envelope;
mod keys;
mod logins;
mod observability;
mod oidc;
mod openapi;
mod proxies;
mod queries;
mod readiness;
mod scope;
mod web;

use std::sync::Arc;

use bastide_core::config::{Flags, Settings, Sources};
use bastide_hub::{self as hub, Hub};
use tempfile::TempDir;

/// `id` as a project id (tests hold ids as text).
pub(crate) fn pid(id: &str) -> bastide_core::ids::ProjectId {
    bastide_core::ids::ProjectId::parse(id).unwrap()
}

/// A hub served on a loopback port for one test.
pub(crate) struct TestHub {
    pub dir: TempDir,
    pub hub: Arc<Hub>,
    pub base: String,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl TestHub {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A hub whose settings `adjust` changes after loading, for init and for serving.
    /// Its clients on loopback are inside the secure environment (row-level answers)
    /// unless `adjust` says otherwise.
    pub(crate) async fn spawn_with(adjust: impl Fn(&mut Settings)) -> Self {
        let adjust = |settings: &mut Settings| {
            settings.query.trusted_networks = vec!["127.0.0.0/8".parse().unwrap()];
            adjust(settings);
        };
        let dir = tempfile::tempdir().unwrap();
        let flags = Flags {
            data_dir: Some(dir.path().join("hub")),
            listen: None,
        };
        let mut settings = Settings::load(&Sources {
            file: None,
            flags: flags.clone(),
        })
        .unwrap();
        adjust(&mut settings);
        hub::init(&settings).await.unwrap();
        let mut settings = Settings::load(&Sources { file: None, flags }).unwrap();
        adjust(&mut settings);
        let hub = Arc::new(Hub::open(settings).await.unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = bastide_server::api::app(hub.clone());
        let server = tokio::spawn(async move {
            bastide_server::serve(listener, app, std::future::pending(), Default::default())
                .await
                .unwrap();
        });
        Self {
            dir,
            hub,
            base,
            client: reqwest::Client::new(),
            server,
        }
    }

    pub(crate) async fn record(&self, event: bastide_audit::NewEvent) -> bastide_audit::Receipt {
        self.hub.audit().record(event).await.unwrap()
    }

    /// Stops serving and lets go of the audit log, so that the data folder can be
    /// opened again.
    pub(crate) async fn release(&self) {
        self.server.abort();
        self.hub.close_quietly().await;
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.server.abort();
    }
}
