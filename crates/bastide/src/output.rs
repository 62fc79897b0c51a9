//! Results on standard output: sentences for people, one JSON document with `--json`.

use serde::Serialize;

/// Prints `value` as JSON when asked, otherwise the human text.
pub fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string(value).expect("results serialise")
        );
    } else {
        println!("{}", human());
    }
}

/// A progress bar on standard error when it is a terminal (none for programs and
/// logs), with `what` before the bar and `unit` (`{pos}/{len} objects`,
/// `{bytes}/{total_bytes}`) after it.
pub fn progress_bar(what: &str, unit: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        let template = format!("{{spinner}} {what} [{{bar:40}}] {unit} ({{eta}})");
        bar.set_style(
            indicatif::ProgressStyle::with_template(&template)
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar
    })
}

/// Seconds since the Unix epoch, as RFC 3339 (UTC).
pub fn timestamp(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| seconds.to_string())
}
