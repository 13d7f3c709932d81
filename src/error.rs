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
    /// A proof file that does not verify against the model folder, before
    /// or instead of halo2's check (that one is `Prover(Rejected { .. })`).
    #[error("proof file {path}: {failure}")]
    Verify { path: PathBuf, failure: VerifyFailure },
    /// A segmented model's segment `index` failed (`crate::segments`).
    #[error("segment {index}: {source}")]
    Segment { index: usize, source: Box<Error> },
}

/// Why `verify` refused a proof file, with the data a service maps to a
/// response.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyFailure {
    #[error("made for a different model or circuit (digest {got}, this model's is {expected})")]
    DigestMismatch { expected: String, got: String },
    #[error("expected {expected} public instances, got {got}")]
    InstanceCount { expected: usize, got: usize },
    #[error("`commitments.{part}` is {claimed}, but the proven instance is {proven}")]
    CommitmentDisagrees { part: String, claimed: String, proven: String },
    #[error("`commitments.{part}` is missing (the {part} are hashed)")]
    CommitmentMissing { part: String },
    #[error("`commitments.{part}`: this model does not hash its {part}")]
    CommitmentUnexpected { part: String },
    #[error("`outputs_quantized` do not hash to the proven output commitment")]
    OutputCommitmentDisagrees,
    /// `index`: the first output element (flattened) that differs, `None`
    /// when the lengths differ.
    #[error("`outputs`/`outputs_quantized` do not match the proven output instances{}", index.map(|i| format!(" (element {i})")).unwrap_or_else(|| " (lengths differ)".into()))]
    OutputsDisagree { index: Option<usize> },
    /// A descriptive field (`k`, `scale_bits`, `output_shapes`,
    /// `input_visibility`, `output_visibility`) is not the compiled model's.
    #[error("`{field}` is {claimed}, the compiled model's is {compiled}")]
    FieldDisagrees { field: String, claimed: String, compiled: String },
    /// A segmented proof with another number of segments than the model.
    #[error("expected {expected} segment proofs, got {got}")]
    SegmentCount { expected: usize, got: usize },
    /// Segment `segment`'s input commitment is not segment `segment - 1`'s
    /// output commitment: the proofs are not one run of the model.
    #[error("segment {segment}'s input commitment {input} is not segment {}'s output commitment {output}", segment - 1)]
    SegmentChain { segment: usize, output: String, input: String },
}
