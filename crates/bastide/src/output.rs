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
