//! Errors of the command line: one readable line on stderr and an exit code, 2 for
//! usage (flags, specs, a model that does not fit the command) and 1 for data (files
//! that cannot be read or are malformed, training that fails on a row).

use std::fmt;

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// The command line asks for something that cannot be done: exit code 2.
    Usage(String),
    /// The data or a file could not be read or written: exit code 1.
    Data(String),
}

impl CliError {
    /// The process exit code.
    pub fn code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Data(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Data(m) => f.write_str(m),
        }
    }
}

/// A usage error from any message.
pub fn usage(m: impl fmt::Display) -> CliError {
    CliError::Usage(m.to_string())
}

/// A data error from any message.
pub fn data(m: impl fmt::Display) -> CliError {
    CliError::Data(m.to_string())
}

/// A model file that could not be read: the file's own fault (damaged, truncated, not a
/// model) is a data error, one that does not fit the command a usage error.
pub fn model(e: vectorflow::ModelError) -> CliError {
    use vectorflow::file::ModelErrorKind as K;
    let path = e
        .path
        .as_ref()
        .map(|p| format!("model file {}: ", p.display()))
        .unwrap_or_default();
    match &e.kind {
        K::PredictOnly => usage(format!(
            "{path}it was saved with --save-weights, without the optimizer state training \
             resumes from: resume from the file of -f, or predict with it"
        )),
        K::Mismatch { .. } => usage(e),
        _ => data(e),
    }
}

/// Why training stopped: its settings are usage errors, the rest data errors.
pub fn train(e: vectorflow::train::TrainError) -> CliError {
    match e {
        vectorflow::train::TrainError::Config(m) => usage(m),
        other => data(other),
    }
}
