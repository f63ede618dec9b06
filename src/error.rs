//! The library's error type: every failure says what went wrong, where (file
//! and line when there is one) and, where it helps, what to do about it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A place in an input file: the path and, for line-oriented formats, the
/// 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, or `-` for standard input.
    pub path: PathBuf,
    /// 1-based line number, when the problem is on one line.
    pub line: Option<usize>,
}

impl Location {
    /// A whole file.
    pub fn file(path: impl AsRef<Path>) -> Self {
        Location { path: path.as_ref().to_path_buf(), line: None }
    }

    /// One line of a file.
    pub fn line(path: impl AsRef<Path>, line: usize) -> Self {
        Location { path: path.as_ref().to_path_buf(), line: Some(line) }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}", self.path.display(), line),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// Everything that can go wrong in `themes`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed. The system's reason is part of
    /// the message and not a separate cause, so that a printed chain of
    /// causes says it once.
    #[error("{path}: {error}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },

    /// A file's content is not what it should be (articles, gold, label sets,
    /// model registry, predictions).
    #[error("{location}: {message}")]
    Invalid {
        /// Where the problem is.
        location: Location,
        /// What is wrong and, where possible, how to fix it.
        message: String,
    },

    /// A model could not be found, fetched, verified or loaded.
    #[error("model {model}: {message}")]
    Model {
        /// The model's name, Hub id or folder as the user gave it.
        model: String,
        /// What is wrong and what to do.
        message: String,
    },

    /// A downloaded or stored model file does not match its recorded sha256.
    #[error("{path}: sha256 mismatch (expected {expected}, found {actual}); the file was not used. Delete it and run `themes model fetch` again")]
    Checksum {
        /// The offending file.
        path: PathBuf,
        /// The sha256 recorded in the registry.
        expected: String,
        /// The sha256 of the file as found.
        actual: String,
    },

    /// The tensor library failed.
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),

    /// The tokenizer failed to load or to encode a text.
    #[error("tokenizer: {0}")]
    Tokenizer(String),

    /// The embedding cache failed in a way that could not be recovered.
    #[error("embedding cache {path}: {message}")]
    Cache {
        /// The cache database.
        path: PathBuf,
        /// What went wrong.
        message: String,
        /// Whether the database file itself is damaged (not just busy).
        damaged: bool,
    },

    /// Another error, with what was being done when it happened.
    #[error("{what}")]
    Context {
        /// What was being done ("labelling article X").
        what: String,
        /// The error.
        #[source]
        source: Box<Error>,
    },

    /// A request that cannot be satisfied as asked (bad option combination,
    /// feature not compiled in, ...).
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().to_path_buf(), error: source }
    }

    /// The kind of the I/O error at the root of this one, if it is one.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            Error::Io { error, .. } => Some(error.kind()),
            Error::Context { source, .. } => source.io_kind(),
            _ => None,
        }
    }

    /// Invalid content at `location`.
    pub fn invalid(location: Location, message: impl Into<String>) -> Self {
        Error::Invalid { location, message: message.into() }
    }

    /// Wraps `self` with what was being done.
    pub fn context(self, what: impl Into<String>) -> Self {
        Error::Context { what: what.into(), source: Box::new(self) }
    }

    /// A model problem.
    pub fn model(model: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Model { model: model.into(), message: message.into() }
    }
}

/// Whether `cause` (one link of an error's chain) is a closed pipe: the
/// reader of standard output went away (`themes label ... | head`), which
/// is not a failure of the run.
pub fn is_broken_pipe(cause: &(dyn std::error::Error + 'static)) -> bool {
    let kind = cause.downcast_ref::<std::io::Error>().map(std::io::Error::kind).or_else(|| cause.downcast_ref::<Error>()?.io_kind());
    kind == Some(std::io::ErrorKind::BrokenPipe)
}
