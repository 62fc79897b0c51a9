//! The one door through which every component records what it does: appends to the
//! audit log (returning once durable), runs the alert rules over each event, and
//! records and forwards the alerts they raise.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bastide_audit::alerts::{Alert, AlertRules, Thresholds};
use bastide_audit::{AuditLog, Event, NewEvent, Outcome, Receipt};
use bastide_core::config::AlertSettings;
use bastide_core::ids::HubId;
use secrecy::{ExposeSecret, SecretString};

/// How long the webhook gets to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Records events. Cheap to clone; clones share the log and the rules.
#[derive(Debug, Clone)]
pub struct Auditor {
    log: AuditLog,
    rules: Arc<Mutex<AlertRules>>,
    webhook: Option<Webhook>,
    hub_id: HubId,
}

#[derive(Debug, Clone)]
struct Webhook {
    url: Arc<SecretString>,
    client: reqwest::Client,
}

impl Auditor {
    /// An auditor over `log` with the configured alert rules and webhook.
    pub fn new(log: AuditLog, settings: &AlertSettings, hub_id: HubId) -> Self {
        let thresholds = Thresholds {
            export_bytes_per_hour: settings.export_bytes_per_hour,
            similar_queries: settings.similar_queries,
            similar_queries_window: settings.similar_queries_window,
            failed_logins: settings.failed_logins,
            failed_logins_window: settings.failed_logins_window,
        };
        let webhook = settings.webhook_url.clone().map(|url| Webhook {
            url: Arc::new(url),
            client: reqwest::Client::builder()
                .timeout(WEBHOOK_TIMEOUT)
                .build()
                .expect("an HTTP client builds"),
        });
        Self {
            log,
            rules: Arc::new(Mutex::new(AlertRules::new(thresholds))),
            webhook,
            hub_id,
        }
    }

    /// Records `event`; returns once it is durable under a signed tree head. Alerts it
    /// raises are recorded before this returns and posted to the webhook in the
    /// background.
    pub async fn record(&self, event: NewEvent) -> bastide_audit::Result<Receipt> {
        let observed = event.clone();
        let receipt = self.log.append(event).await?;
        let stored = Event {
            seq: receipt.seq,
            time: receipt.time,
            event: observed,
        };
        let alerts = self
            .rules
            .lock()
            .expect("alert rules lock")
            .observe(&stored);
        for alert in alerts {
            self.raise(alert).await?;
        }
        Ok(receipt)
    }

    /// How many queries of `query`'s shape `actor` ran within the similar-query window,
    /// and the threshold at which the hub stops answering that shape.
    pub fn similar_queries(&self, actor: &str, query: &str) -> (u64, u64) {
        self.rules
            .lock()
            .expect("alert rules lock")
            .similar_queries(actor, query, time::OffsetDateTime::now_utc())
    }

    async fn raise(&self, alert: Alert) -> bastide_audit::Result<()> {
        let kind = serde_json::to_value(alert.kind).unwrap_or_default();
        tracing::warn!(target: "bastide::alert", kind = %kind, trigger_seq = alert.trigger_seq, "alert raised");
        let mut event = crate::actions::system_event(crate::Action::AlertRaised, Outcome::Success)
            .object(kind.as_str().unwrap_or_default())
            .detail("subject", alert.subject.clone())
            .detail("value", alert.value)
            .detail("threshold", alert.threshold)
            .detail("window_secs", alert.window_secs)
            .detail("trigger_seq", alert.trigger_seq);
        event.project.clone_from(&alert.project);
        let receipt = self.log.append(event).await?;
        if let Some(webhook) = self.webhook.clone() {
            let body = serde_json::json!({
                "hub_id": self.hub_id.to_string(),
                "audit_seq": receipt.seq,
                "time": receipt.time.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "alert": alert,
            });
            tokio::spawn(async move { webhook.post(body).await });
        }
        Ok(())
    }

    /// The audit log itself, for reading its head.
    pub fn log(&self) -> &AuditLog {
        &self.log
    }

    /// Flushes and closes the log (blocking).
    pub fn shutdown(&self) {
        self.log.shutdown();
    }
}

impl Webhook {
    async fn post(&self, body: serde_json::Value) {
        let sent = self
            .client
            .post(self.url.expose_secret())
            .json(&body)
            .send()
            .await;
        match sent.and_then(reqwest::Response::error_for_status) {
            Ok(_) => {}
            // The URL may carry a token: only the status or the kind of failure is logged.
            Err(e) => tracing::error!(
                target: "bastide::alert",
                status = e.status().map(|s| s.as_u16()),
                timeout = e.is_timeout(),
                connect = e.is_connect(),
                "the alert webhook did not accept the alert"
            ),
        }
    }
}
