//! What can go wrong with a query, split between the caller's faults (a refused or
//! invalid query, a limit reached) and the hub's.

/// A query's failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQL does not parse.
    #[error("syntax error: {message}")]
    Syntax {
        /// The parser's message, with its line and column.
        message: String,
    },
    /// The guard refused a construct.
    #[error("refused: {construct} is not allowed in the workspace; {hint}")]
    Refused {
        /// What was refused (`DROP TABLE`, `COPY`, the table function `read_csv`, ...).
        construct: String,
        /// What is allowed instead.
        hint: &'static str,
    },
    /// The query names something unknown or is otherwise invalid (an unknown table
    /// and a table outside the permit get this same answer).
    #[error("{message}")]
    Invalid {
        /// The planner's message.
        message: String,
    },
    /// The query ran past its time limit and was stopped.
    #[error(
        "the query ran longer than its limit of {seconds} s and was stopped; narrow it or aggregate earlier"
    )]
    TimedOut {
        /// The limit.
        seconds: u64,
    },
    /// The query needed more memory than its limit.
    #[error(
        "the query needed more than its memory limit of {megabytes} MB and its spill space on disk, and was stopped; narrow it or aggregate earlier"
    )]
    OutOfMemory {
        /// The limit.
        megabytes: u64,
    },
    /// The queries running hold the memory all queries share.
    #[error(
        "the hub's memory for queries is taken by the queries running now; try again in a moment"
    )]
    HubBusy,
    /// The user has too many queries running.
    #[error("you already have {limit} queries running; wait for one to finish or cancel it")]
    Busy {
        /// The cap.
        limit: usize,
    },
    /// The user ran too many queries of this shape (literals aside) within the window
    /// of the similar-query alert: repeated or differencing queries.
    #[error(
        "you ran {count} queries of this shape within {seconds} s (the same query with other values): no more of it is answered until that window has passed; ask a different question, or wait"
    )]
    Repeated {
        /// How many.
        count: u64,
        /// The window.
        seconds: u64,
    },
    /// The query was cancelled.
    #[error("the query was cancelled")]
    Cancelled,
    /// The stored data cannot be read.
    #[error(transparent)]
    Store(#[from] bastide_store::Error),
    /// Anything else: a fault of the hub, not of the query.
    #[error("the query failed inside the hub: {0}")]
    Internal(String),
}

impl Error {
    /// Whether the caller can fix it (as opposed to a fault of the hub).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Store(_) | Self::Internal(_))
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An engine error met where only the hub could be at fault (building a plan it made).
pub(crate) fn internal(e: datafusion::error::DataFusionError) -> Error {
    Error::Internal(e.to_string())
}
