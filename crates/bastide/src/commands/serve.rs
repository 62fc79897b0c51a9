//! `bastide serve`: open the hub and serve its API until SIGINT or SIGTERM.

use std::sync::Arc;

use anyhow::Context;
use bastide_core::config::Settings;
use bastide_hub::Hub;
use bastide_server::wire::WireServer;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::output;

#[derive(Serialize)]
struct Listening {
    url: String,
    hub_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    wire: Option<String>,
}

/// Runs `bastide serve`.
pub async fn run(settings: Settings, json: bool) -> anyhow::Result<()> {
    let listen = settings.server.listen;
    let grace = settings.server.shutdown_grace;
    // Handle SIGINT and SIGTERM from the start: a signal that arrives before the
    // server runs must still stop it cleanly, not kill it.
    let shutdown = shutdown_signal()?;
    // Uploads cut short by a stop: they hold identifiers in clear, so they go first.
    let uploads = settings.data_dir.join("uploads");
    if uploads.exists() {
        std::fs::remove_dir_all(&uploads)
            .with_context(|| format!("cannot clear {}", uploads.display()))?;
    }
    let hub = Arc::new(Hub::open(settings).await?);
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| bind_error(listen, &e))?;
    let addr = listener
        .local_addr()
        .context("cannot read the address listened on")?;
    let wire = match &hub.settings().wire {
        Some(settings) => Some(WireServer::bind(hub.clone(), settings).await?),
        None => None,
    };
    let wire_addr = wire
        .as_ref()
        .map(|w| {
            w.local_addr()
                .context("cannot read the wire endpoint's address")
        })
        .transpose()?;
    hub.started(addr).await?;
    let url = format!("http://{addr}/");
    tracing::info!(target: "bastide::serve", %addr, hub_id = %hub.hub_id(), "listening");
    let value = Listening {
        url: url.clone(),
        hub_id: hub.hub_id().to_string(),
        wire: wire_addr.map(|a| a.to_string()),
    };
    output::print(json, &value, || {
        let mut text = format!("Bastide hub {} listening on {url}", hub.hub_id());
        if let Some(wire) = wire_addr {
            text.push_str(&format!("\nPostgreSQL wire endpoint on {wire}"));
        }
        text
    });
    let wire = wire.map(|w| tokio::spawn(w.run()));

    let collector = bastide_hub::spawn_garbage_collection(hub.clone(), bastide_hub::GARBAGE_GRACE);
    let archiver =
        bastide_hub::spawn_audit_archiving(hub.clone(), std::time::Duration::from_secs(86_400));
    let app = bastide_server::api::app(hub.clone());
    bastide_server::serve(listener, app, shutdown, grace)
        .await
        .context("the HTTP server failed")?;
    collector.abort();
    archiver.abort();
    if let Some(wire) = wire {
        wire.abort();
    }
    hub.close().await;
    tracing::info!(target: "bastide::serve", "stopped");
    Ok(())
}

fn bind_error(listen: std::net::SocketAddr, e: &std::io::Error) -> anyhow::Error {
    let cause = match e.kind() {
        std::io::ErrorKind::AddrInUse => "the address is already in use".to_owned(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".to_owned()
        }
        _ => e.to_string(),
    };
    anyhow::anyhow!(
        "cannot listen on {listen}: {cause}; choose another address with --listen or server.listen \
         (BASTIDE_SERVER__LISTEN), or stop the program using it"
    )
}

fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
