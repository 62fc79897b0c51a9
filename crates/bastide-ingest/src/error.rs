//! Errors of reading schemas.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A Table Schema that cannot be used. Messages name the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is not JSON or not a Table Schema.
    #[error("{file}: not a Table Schema ({problem})")]
    NotASchema {
        /// The schema file.
        file: String,
        /// What is wrong, with line and column when JSON is malformed.
        problem: String,
    },
    /// A field is unusable.
    #[error("{file}: field `{field}`: {problem}")]
    Field {
        /// The schema file.
        file: String,
        /// The field.
        field: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}
