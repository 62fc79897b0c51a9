//! Errors of disclosure control: a rule set that cannot be applied, or a table that
//! cannot be checked. Messages name the setting or the place at fault, never a value of
//! the data.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a table cannot be checked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A threshold is out of its range.
    #[error("disclosure rule `{field}`: {problem}")]
    Rule {
        /// The setting.
        field: &'static str,
        /// What is wrong and what would be accepted.
        problem: String,
    },
    /// The table has no cell to check.
    #[error("the table is empty: no record to count or sum")]
    Empty,
    /// A value is not a finite number.
    #[error(
        "{place}: the value is not a finite number (NaN or infinite, or a sum too large to hold); fix the values or leave missing ones empty"
    )]
    NotFinite {
        /// Where: a cell's labels or a record's line.
        place: String,
    },
    /// The cells given do not make the grid their labels describe.
    #[error("the table's cells do not match its labels: {problem}")]
    Shape {
        /// What does not match.
        problem: String,
    },
}
