//! The one error type of this crate.

/// What can go wrong reading a trace or building a workload. Parse errors carry the 1-based line
/// number; the caller (which opened the file) adds the file name.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// A row that does not parse.
    #[error("line {line}: {message}")]
    Parse {
        /// 1-based line number in the input.
        line: u64,
        /// What was expected and what was found.
        message: String,
    },
    /// The underlying reader failed.
    #[error("line {line}: read error: {source}")]
    Io {
        /// 1-based number of the line being read.
        line: u64,
        /// The IO error.
        source: std::io::Error,
    },
    /// A workload spec with problems (all of them, one per entry).
    #[error("invalid workload spec:\n  {}", .0.join("\n  "))]
    Spec(Vec<String>),
    /// The input's format could not be recognised from its first line.
    #[error("cannot detect the trace format from the first line {0:?}; pass an explicit format")]
    UnknownFormat(String),
}

impl WorkloadError {
    pub(crate) fn parse(line: u64, message: impl Into<String>) -> Self {
        WorkloadError::Parse { line, message: message.into() }
    }
}
