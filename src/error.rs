use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Compile(#[from] compiler::CompileError),
    #[error(transparent)]
    Ir(#[from] ir::IrError),
    #[error(transparent)]
    Circuit(#[from] circuits::CircuitError),
    #[error(transparent)]
    Prover(#[from] prover::ProverError),
    #[error(transparent)]
    VerifierGen(#[from] verifier_gen::GenError),
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{path} is missing: {hint}")]
    Missing { path: PathBuf, hint: &'static str },
    #[error("proof file {path}: {reason}")]
    ProofFile { path: PathBuf, reason: String },
}
