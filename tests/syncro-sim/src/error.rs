//! The simulator's error type: what can stop it from starting or reject an admin change.

use std::path::PathBuf;

/// Why the simulator could not start, or why an option or fault was refused.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The seed file named on the command line could not be read.
    #[error("cannot read seed file {path}: {source}")]
    SeedRead {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The seed (file or built-in) is not valid JSON of the seed format.
    #[error("invalid seed {origin}: {source}")]
    SeedParse {
        origin: String,
        source: serde_json::Error,
    },
    /// An option has a value outside its range, or does not parse.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A fault description is incomplete or names an unknown route.
    #[error("invalid fault: {0}")]
    InvalidFault(String),
    /// Binding or running the HTTP server failed.
    #[error("HTTP server: {0}")]
    Io(#[from] std::io::Error),
}

/// The simulator's result alias.
pub type Result<T, E = SimError> = std::result::Result<T, E>;
