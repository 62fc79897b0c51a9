//! Serving until a shutdown signal, then draining in-flight requests for a bounded time.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

/// Serves `app` on `listener` until `shutdown` resolves; in-flight requests then get
/// `grace` to finish before the server stops anyway.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!(target: "bastide::serve", "shutdown signal received, draining requests");
        let _ = signalled_tx.send(());
    });
    let deadline = async move {
        if signalled_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server.into_future() => result,
        () = deadline => {
            tracing::warn!(target: "bastide::serve", grace_secs = grace.as_secs(), "requests still running after the grace period; stopping anyway");
            Ok(())
        }
    }
}
