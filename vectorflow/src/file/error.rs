//! Why a model could not be saved or loaded.

use std::fmt;
use std::path::{Path, PathBuf};

/// A model file that could not be written or read, and where.
pub struct ModelError {
    /// The file, when the model was saved to or loaded from a path.
    pub path: Option<PathBuf>,
    /// What went wrong.
    pub kind: ModelErrorKind,
}

/// What went wrong with a model file.
#[derive(Debug)]
#[non_exhaustive]
pub enum ModelErrorKind {
    /// Reading or writing failed.
    Io(std::io::Error),
    /// The bytes are not a vectorflow model.
    NotAModel(String),
    /// The file was written by a newer format version than this build reads.
    FutureVersion {
        /// The file's format version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A checksum or a structural check failed: the file is damaged.
    Corrupt(String),
    /// The file ends before the data its header describes.
    Truncated {
        /// The part being read.
        section: String,
        /// The bytes it should have.
        expected: u64,
        /// The bytes there were.
        found: u64,
    },
    /// The file was saved for prediction ([`crate::Net::save_for_predict`]) and has no
    /// training state to resume from: load it with [`crate::Net::load_weights`].
    PredictOnly,
    /// The file's network has several inputs, and a model file does not record the
    /// feature group each reads: a run-time net loads it with
    /// [`crate::dynnet::DynNet::load_as`] and a spec naming them. Holds the topology.
    UnnamedInputs(String),
    /// The file's read recipe ([`crate::dynnet::Recipe`]) is newer than this build, has an
    /// unknown field, or a value that does not read back.
    Recipe(String),
    /// The file holds another model than the net it is loaded into.
    Mismatch {
        /// What differs (`topology`, `hashing`, ...).
        what: &'static str,
        /// The file's value.
        file: String,
        /// The net's value.
        net: String,
    },
}

impl ModelError {
    pub(crate) fn new(kind: ModelErrorKind) -> ModelError {
        ModelError { path: None, kind }
    }
    pub(crate) fn at(self, path: &Path) -> ModelError {
        ModelError {
            path: Some(path.to_path_buf()),
            ..self
        }
    }
}

impl From<std::io::Error> for ModelError {
    fn from(e: std::io::Error) -> Self {
        ModelError::new(ModelErrorKind::Io(e))
    }
}

impl From<ModelErrorKind> for ModelError {
    fn from(kind: ModelErrorKind) -> Self {
        ModelError::new(kind)
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "model file {}: ", p.display())?;
        }
        match &self.kind {
            ModelErrorKind::Io(e) => write!(f, "{e}"),
            ModelErrorKind::NotAModel(m) => write!(f, "not a vectorflow model: {m}"),
            ModelErrorKind::FutureVersion { found, supported } => write!(
                f,
                "written in model format version {found}, but this build reads versions up \
                 to {supported}: load it with a newer vectorflow"
            ),
            ModelErrorKind::Corrupt(m) => write!(f, "the file is corrupt: {m}"),
            ModelErrorKind::Recipe(m) => write!(f, "its read recipe cannot be used: {m}"),
            ModelErrorKind::Truncated {
                section,
                expected,
                found,
            } => write!(
                f,
                "the file is truncated: {section} needs {expected} bytes, but it ends after {found}"
            ),
            ModelErrorKind::PredictOnly => write!(
                f,
                "it was saved for prediction only (Net::save_for_predict), without the \
                 optimizer state training resumes from: load it with Net::load_weights, \
                 and training it then starts a fresh optimizer state"
            ),
            ModelErrorKind::UnnamedInputs(t) => write!(
                f,
                "its network {t} has several inputs, and a model file does not record the \
                 feature group each reads: load it with DynNet::load_as and a spec naming \
                 them (e.g. sparse:2^20 + user:sparse:2^16 > 16 > relu > 1)"
            ),
            ModelErrorKind::Mismatch { what, file, net } => write!(
                f,
                "the file holds a model of another {what}:\n  file: {file}\n  net:  {net}"
            ),
        }
    }
}

debug_as_message!(ModelError);

impl std::error::Error for ModelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ModelErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}
