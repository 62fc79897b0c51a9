//! Alert rules over the stream of audit events. Each rule watches one pattern in a
//! sliding window and fires once when its threshold is crossed:
//!
//! | alert | events it watches |
//! |---|---|
//! | `export_volume` | `export.*` and `release.downloaded` with a `bytes` detail, summed per actor over an hour |
//! | `similar_queries` | `query.start` (recorded before any answer leaves) with a `query` detail, per actor and query shape (literals removed) |
//! | `failed_logins` | `auth.login` that failed, per account and per client address |
//! | `outside_permit_period` | any event denied with detail `reason = "outside_permit_period"` |
//!
//! Components that emit these events follow the shapes above; the rules are pure and
//! keep only times and counts, never event contents.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::event::{Event, Outcome};

/// When rules fire.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Bytes one actor may export within an hour.
    pub export_bytes_per_hour: u64,
    /// Same-shape queries by one actor within `similar_queries_window`.
    pub similar_queries: u32,
    /// Window of the similar-query rule.
    pub similar_queries_window: Duration,
    /// Failed logins per account or address within `failed_logins_window`.
    pub failed_logins: u32,
    /// Window of the failed-login rule.
    pub failed_logins_window: Duration,
}

/// What kind of alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Unusual export volume.
    ExportVolume,
    /// Many similar queries in a short window (repetition or differencing).
    SimilarQueries,
    /// A burst of failed logins.
    FailedLogins,
    /// Access attempted outside a permit's period.
    OutsidePermitPeriod,
    /// A project's rows shown today reached 80 % of its row budget, or all of it.
    RowBudget,
}

/// A raised alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// What kind.
    pub kind: AlertKind,
    /// Whom it is about: an actor, or `client:ADDRESS` for logins from one address.
    pub subject: String,
    /// The project concerned, if any.
    pub project: Option<String>,
    /// The measured value (count or bytes) that crossed the threshold.
    pub value: u64,
    /// The threshold.
    pub threshold: u64,
    /// The window, in seconds.
    pub window_secs: u64,
    /// The audit event that crossed it.
    pub trigger_seq: u64,
}

const HOUR: Duration = Duration::from_secs(3600);

/// The rules' state: recent times per key.
#[derive(Debug)]
pub struct AlertRules {
    thresholds: Thresholds,
    exports: HashMap<String, VecDeque<(OffsetDateTime, u64)>>,
    queries: HashMap<(String, String), VecDeque<OffsetDateTime>>,
    logins: HashMap<String, VecDeque<OffsetDateTime>>,
    observed: u64,
}

impl AlertRules {
    /// Rules with these thresholds and no history.
    pub fn new(thresholds: Thresholds) -> Self {
        Self {
            thresholds,
            exports: HashMap::new(),
            queries: HashMap::new(),
            logins: HashMap::new(),
            observed: 0,
        }
    }

    /// Takes one recorded event; returns the alerts it raises.
    pub fn observe(&mut self, event: &Event) -> Vec<Alert> {
        self.observed += 1;
        if self.observed.is_multiple_of(4096) {
            self.forget_before(event.time);
        }
        let e = &event.event;
        let t = self.thresholds;
        let alert = |kind, subject: String, value: u64, threshold: u64, window: Duration| Alert {
            kind,
            subject,
            project: e.project.clone(),
            value,
            threshold,
            window_secs: window.as_secs(),
            trigger_seq: event.seq,
        };
        let mut alerts = Vec::new();
        if e.outcome == Outcome::Denied
            && e.details.get("reason").and_then(|r| r.as_str()) == Some("outside_permit_period")
        {
            alerts.push(alert(
                AlertKind::OutsidePermitPeriod,
                e.actor.clone(),
                1,
                1,
                Duration::ZERO,
            ));
        }
        if e.action == "query.row_budget" {
            let detail = |key: &str| e.details.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
            alerts.push(alert(
                AlertKind::RowBudget,
                e.actor.clone(),
                detail("shown"),
                detail("budget"),
                Duration::from_secs(86_400),
            ));
        }
        let is_export = e.action.starts_with("export.") || e.action == "release.downloaded";
        if let (true, Some(bytes)) = (is_export, e.details.get("bytes").and_then(|b| b.as_u64())) {
            let window = self.exports.entry(e.actor.clone()).or_default();
            prune(window, event.time, HOUR, |(time, _)| *time);
            let before: u64 = window.iter().map(|(_, b)| b).sum();
            window.push_back((event.time, bytes));
            let limit = t.export_bytes_per_hour;
            if before <= limit && before + bytes > limit {
                alerts.push(alert(
                    AlertKind::ExportVolume,
                    e.actor.clone(),
                    before + bytes,
                    limit,
                    HOUR,
                ));
            }
        }
        if e.action == "query.start"
            && let Some(query) = e.details.get("query").and_then(|q| q.as_str())
        {
            let window = self
                .queries
                .entry((e.actor.clone(), shape(query)))
                .or_default();
            let count = push_counted(window, event.time, t.similar_queries_window);
            if count == u64::from(t.similar_queries) {
                alerts.push(alert(
                    AlertKind::SimilarQueries,
                    e.actor.clone(),
                    count,
                    count,
                    t.similar_queries_window,
                ));
            }
        }
        if e.action == "auth.login" && e.outcome == Outcome::Failure {
            let mut subjects = vec![e.actor.clone()];
            subjects.extend(e.client.map(|ip| format!("client:{ip}")));
            for subject in subjects {
                let window = self.logins.entry(subject.clone()).or_default();
                let count = push_counted(window, event.time, t.failed_logins_window);
                if count == u64::from(t.failed_logins) {
                    alerts.push(alert(
                        AlertKind::FailedLogins,
                        subject,
                        count,
                        count,
                        t.failed_logins_window,
                    ));
                }
            }
        }
        alerts
    }

    /// How many queries of the shape of `query` `actor` ran within the similar-query
    /// window before `now`, and the threshold: at it, the alert has fired and the hub
    /// refuses more of that shape until the window moves on.
    pub fn similar_queries(&self, actor: &str, query: &str, now: OffsetDateTime) -> (u64, u64) {
        let t = self.thresholds;
        let count = self
            .queries
            .get(&(actor.to_owned(), shape(query)))
            .map_or(0, |w| {
                w.iter()
                    .filter(|time| now - **time < t.similar_queries_window)
                    .count() as u64
            });
        (count, u64::from(t.similar_queries))
    }

    /// Drops every window entry older than the longest window before `now`.
    fn forget_before(&mut self, now: OffsetDateTime) {
        let t = self.thresholds;
        self.exports.retain(|_, w| {
            prune(w, now, HOUR, |(time, _)| *time);
            !w.is_empty()
        });
        self.queries.retain(|_, w| {
            prune(w, now, t.similar_queries_window, |time| *time);
            !w.is_empty()
        });
        self.logins.retain(|_, w| {
            prune(w, now, t.failed_logins_window, |time| *time);
            !w.is_empty()
        });
    }
}

fn prune<T>(
    window: &mut VecDeque<T>,
    now: OffsetDateTime,
    length: Duration,
    time: impl Fn(&T) -> OffsetDateTime,
) {
    while window
        .front()
        .is_some_and(|item| now - time(item) >= length)
    {
        window.pop_front();
    }
}

fn push_counted(
    window: &mut VecDeque<OffsetDateTime>,
    now: OffsetDateTime,
    length: Duration,
) -> u64 {
    prune(window, now, length, |time| *time);
    window.push_back(now);
    window.len() as u64
}

/// A query's shape: lowercase, literals replaced by `?`, white space folded. Two
/// queries that differ only by a constant (`age > 40` and `age > 41`) have one shape.
pub fn shape(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                while let Some(c) = chars.next() {
                    if c == '\'' && chars.peek() != Some(&'\'') {
                        break;
                    }
                    if c == '\'' {
                        chars.next();
                    }
                }
                out.push('?');
            }
            c if c.is_ascii_digit()
                && !out.ends_with(|p: char| p.is_alphanumeric() || p == '_') =>
            {
                while chars
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || *c == '.')
                {
                    chars.next();
                }
                out.push('?');
            }
            c if c.is_whitespace() => {
                if !out.ends_with(' ') && !out.is_empty() {
                    out.push(' ');
                }
            }
            c => out.extend(c.to_lowercase()),
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{NewEvent, Role};

    fn thresholds() -> Thresholds {
        Thresholds {
            export_bytes_per_hour: 1000,
            similar_queries: 3,
            similar_queries_window: Duration::from_secs(60),
            failed_logins: 3,
            failed_logins_window: Duration::from_secs(60),
        }
    }

    fn at(seq: u64, secs: i64, event: NewEvent) -> Event {
        Event {
            seq,
            time: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(secs),
            event,
        }
    }

    fn query(text: &str) -> NewEvent {
        NewEvent::new("alice", Role::Researcher, "query.start", Outcome::Success)
            .detail("query", text)
    }

    #[test]
    fn queries_differing_only_by_a_constant_have_one_shape() {
        assert_eq!(
            shape("SELECT count(*)  FROM t WHERE age > 40"),
            shape("select COUNT(*) from t where age > 41")
        );
        assert_eq!(shape("WHERE c = 'O''Brien'"), "where c = ?");
        assert_eq!(shape("SELECT col2 FROM t1"), "select col2 from t1");
        assert_ne!(shape("SELECT a FROM t"), shape("SELECT b FROM t"));
    }

    #[test]
    fn similar_queries_fire_once_when_the_threshold_is_reached_in_the_window() {
        let mut rules = AlertRules::new(thresholds());
        let fired: Vec<usize> = (0..5)
            .map(|i| {
                rules
                    .observe(&at(
                        i,
                        i as i64,
                        query(&format!("SELECT * FROM t WHERE age > {}", 40 + i)),
                    ))
                    .len()
            })
            .collect();
        assert_eq!(fired, [0, 0, 1, 0, 0]);
    }

    #[test]
    fn similar_queries_spread_beyond_the_window_do_not_fire() {
        let mut rules = AlertRules::new(thresholds());
        let fired: usize = (0..5)
            .map(|i| {
                rules
                    .observe(&at(i, i as i64 * 40, query("SELECT 1 FROM t")))
                    .len()
            })
            .sum();
        assert_eq!(fired, 0);
    }

    #[test]
    fn export_volume_fires_when_the_hourly_sum_crosses_the_threshold() {
        let mut rules = AlertRules::new(thresholds());
        let export = |bytes: u64| {
            NewEvent::new(
                "bob",
                Role::Researcher,
                "release.downloaded",
                Outcome::Success,
            )
            .detail("bytes", bytes)
        };
        assert!(rules.observe(&at(0, 0, export(600))).is_empty());
        let alerts = rules.observe(&at(1, 10, export(600)));
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            (alerts[0].kind, alerts[0].value, alerts[0].trigger_seq),
            (AlertKind::ExportVolume, 1200, 1)
        );
        assert!(
            rules.observe(&at(2, 20, export(600))).is_empty(),
            "fires once per crossing"
        );
        assert!(
            rules.observe(&at(3, 4000, export(600))).is_empty(),
            "an hour later the window is empty"
        );
    }

    #[test]
    fn failed_logins_fire_per_account_and_per_address() {
        let mut rules = AlertRules::new(thresholds());
        let mut fail = |seq: u64, actor: &str| {
            let mut e = NewEvent::new(actor, Role::Researcher, "auth.login", Outcome::Failure);
            e.client = Some("192.0.2.7".parse().unwrap());
            rules.observe(&at(seq, seq as i64, e))
        };
        assert!(fail(0, "a").is_empty());
        assert!(fail(1, "b").is_empty());
        let alerts = fail(2, "c");
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].subject, "client:192.0.2.7");
    }

    #[test]
    fn access_outside_a_permit_period_fires_at_once() {
        let mut rules = AlertRules::new(thresholds());
        let denied = NewEvent::new("alice", Role::Researcher, "query.run", Outcome::Denied)
            .project("p-1")
            .detail("reason", "outside_permit_period");
        let alerts = rules.observe(&at(9, 0, denied));
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            (alerts[0].kind, alerts[0].project.as_deref()),
            (AlertKind::OutsidePermitPeriod, Some("p-1"))
        );
    }

    #[test]
    fn old_windows_are_forgotten() {
        let mut rules = AlertRules::new(thresholds());
        for i in 0..5000u64 {
            rules.observe(&at(
                i,
                i as i64 * 100,
                query(&format!("SELECT {i} FROM t{i}")),
            ));
        }
        // The sweep at the 4096th event kept only the windows still open then.
        assert!(
            rules.queries.len() <= 5000 - 4096 + 1,
            "{}",
            rules.queries.len()
        );
    }
}
