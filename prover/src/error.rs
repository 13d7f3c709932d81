use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProverError {
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{path}: not a valid {what} file ({reason})")]
    BadFile { path: PathBuf, what: &'static str, reason: String },
    #[error("{path}: this {what} was made for a different model or circuit (digest {got}, expected {expected}); run setup again for this model")]
    WrongKey { path: PathBuf, what: &'static str, got: String, expected: String },
    #[error("SRS {path} has k = {got}, the circuit needs k = {need}; make a larger one (zkinfer srs --k {need})")]
    SrsTooSmall { path: PathBuf, got: u32, need: u32 },
    #[error("key generation failed: {0}")]
    Keygen(String),
    #[error("the {backend} prover is not available: {reason}")]
    BackendUnavailable { backend: &'static str, reason: String },
    #[error("proving failed: {0}")]
    Prove(String),
    /// halo2's verifier refused the proof (`reason`: its error).
    #[error("proof rejected: {reason}")]
    Rejected { reason: String },
    /// Bytes after a complete proof (a proof has exactly one encoding).
    #[error("proof rejected: {count} trailing bytes after the proof")]
    TrailingBytes { count: usize },
    #[error(transparent)]
    Ir(#[from] ir::IrError),
    #[error(transparent)]
    Circuit(#[from] circuits::CircuitError),
}

impl ProverError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ProverError::Io { path: path.into(), err: source }
    }
}
