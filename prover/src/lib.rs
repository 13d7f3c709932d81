//! SRS, key generation, proving and verification, and the artifact files.
//!
//! - [`srs`]: KZG parameters: a deterministic development SRS, files, downsizing.
//! - [`transcript`]: the EVM-friendly Keccak transcript the on-chain verifier replays.
//! - [`keys`]: proving/verifying keys, bound to the program they were made for.
//! - [`proof`]: prove and verify.
//! - [`polycommit`]: committed weight columns: unblinded, their commitments checked.
//! - [`backend`]: which prover runs: CPU (default) or CUDA (`cuda` feature, untested).
//! - [`artifact`]: atomic file writes and the hex encodings of proofs and instances.

pub mod artifact;
pub mod backend;
#[cfg(feature = "cuda")]
mod cuda;
pub mod error;
pub mod keys;
pub mod polycommit;
pub mod proof;
pub mod srs;
pub mod transcript;

pub use backend::Backend;
pub use error::ProverError;
pub use keys::{digest, keygen, Keys};
pub use proof::{prove, prove_with, prove_with_points, verify};

pub use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
pub use halo2_proofs::poly::kzg::commitment::ParamsKZG;
