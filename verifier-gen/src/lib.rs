//! Solidity verifiers for zkinfer proofs.
//!
//! From a model's verifying key (halo2-axiom, KZG on BN254, SHPLONK, the
//! EVM Keccak transcript of `prover::transcript`), the generator computes the
//! whole verifier in Rust (proof layout, transcript, gate and lookup
//! expressions, permutation argument, rotation sets and the SHPLONK MSM) and
//! renders it as one inline-assembly block in a Solidity contract.
//!
//! Two forms:
//! - [`render_verifier`]: one self-contained contract per model,
//!   `verifyProof(bytes proof, uint256[] instances) returns (bool)`;
//! - [`render_separate`]: a reusable verifier for every model of one circuit
//!   shape, `verifyProof(address vk, bytes proof, uint256[] instances)`, and
//!   per model a VK contract whose deployed code is the key's words.
//!
//! Calldata: [`encode_calldata`] / [`encode_calldata_separate`]. With the
//! `evm` feature, [`evm`] compiles with solc-js and runs the result in revm.
//! Design notes: `verifier-gen/README.md`.

mod codegen;
mod error;
mod evaluator;
mod expr;
mod layout;
mod pcs;
mod render;
mod shape;

#[cfg(feature = "evm")]
pub mod evm;

use halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::VerifyingKey,
    poly::kzg::commitment::ParamsKZG,
};
use sha3::{Digest, Keccak256};

pub use error::GenError;

use codegen::{Mode, Plan};
use shape::Shape;

/// Contract name of the self-contained verifier.
pub const VERIFIER_NAME: &str = "Halo2Verifier";
/// Contract name of the reusable verifier.
pub const REUSABLE_VERIFIER_NAME: &str = "Halo2ReusableVerifier";
/// Contract name of a VK contract.
pub const VK_NAME: &str = "Halo2VerifyingKey";

/// The self-contained verifier of the model whose key is `vk`, for proofs
/// with `num_instances` public values.
pub fn render_verifier(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    num_instances: usize,
) -> Result<String, GenError> {
    let plan = Plan::new(Shape::from_vk(vk)?, Mode::SelfContained)?;
    let words = render::vk_words(&plan, params, vk, num_instances)?;
    Ok(render::verifier(&plan, Mode::SelfContained, VERIFIER_NAME, Some(&words)))
}

/// The reusable verifier of `vk`'s circuit shape and the VK contract of this
/// model: `(verifier source, VK contract source)`. The verifier depends only
/// on the shape (it refuses a VK contract of another shape by its digest).
pub fn render_separate(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    num_instances: usize,
) -> Result<(String, String), GenError> {
    let plan = Plan::new(Shape::from_vk(vk)?, Mode::Separate)?;
    let words = render::vk_words(&plan, params, vk, num_instances)?;
    Ok((
        render::verifier(&plan, Mode::Separate, REUSABLE_VERIFIER_NAME, None),
        render::vk_contract(&plan, VK_NAME, &words),
    ))
}

/// Identifies the circuit shape (and generator conventions) a reusable
/// verifier serves: models with equal digests share one.
pub fn shape_digest(vk: &VerifyingKey<G1Affine>) -> Result<[u8; 32], GenError> {
    Ok(Shape::from_vk(vk)?.digest)
}

/// The length in bytes of every proof for `vk`'s circuit shape.
pub fn proof_len(vk: &VerifyingKey<G1Affine>) -> Result<usize, GenError> {
    Ok(layout::ProofLayout::new(&Shape::from_vk(vk)?).len)
}

/// Where each kind of word sits in every proof of `vk`'s circuit shape (byte
/// offsets): what a verifier must check before it trusts a word, and what
/// malleability tests aim at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofSections {
    /// Byte offsets of the 64-byte points (x, y big-endian), in proof order.
    pub points: Vec<usize>,
    /// Byte offsets of the 32-byte scalars (evaluations), in proof order.
    pub scalars: Vec<usize>,
    /// The proof's length in bytes.
    pub len: usize,
}

pub fn proof_sections(vk: &VerifyingKey<G1Affine>) -> Result<ProofSections, GenError> {
    let l = layout::ProofLayout::new(&Shape::from_vk(vk)?);
    let mut points: Vec<usize> = (0..l.points_end).step_by(0x40).collect();
    points.extend([l.h1, l.h2]);
    Ok(ProofSections { points, scalars: (l.points_end..l.scalars_end).step_by(0x20).collect(), len: l.len })
}

fn selector(signature: &str) -> [u8; 4] {
    let h = Keccak256::digest(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

fn push_word(out: &mut Vec<u8>, v: usize) {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&(v as u64).to_be_bytes());
    out.extend_from_slice(&w);
}

/// ABI tail of `(bytes proof, uint256[] instances)` after `head_words` leading static words.
fn encode_tail(out: &mut Vec<u8>, head_words: usize, proof: &[u8], instances: &[Fr]) {
    let padded = proof.len().div_ceil(32) * 32;
    let head = 0x20 * (head_words + 2);
    push_word(out, head);
    push_word(out, head + 0x20 + padded);
    push_word(out, proof.len());
    out.extend_from_slice(proof);
    out.resize(out.len() + padded - proof.len(), 0);
    push_word(out, instances.len());
    for f in instances {
        out.extend_from_slice(&evaluator::fr_be(f));
    }
}

/// Calldata of `verifyProof(bytes proof, uint256[] instances)` (the
/// self-contained verifier).
pub fn encode_calldata(proof: &[u8], instances: &[Fr]) -> Vec<u8> {
    let mut out = selector("verifyProof(bytes,uint256[])").to_vec();
    encode_tail(&mut out, 0, proof, instances);
    out
}

/// Calldata of `verifyProof(address vk, bytes proof, uint256[] instances)`
/// (the reusable verifier).
pub fn encode_calldata_separate(vk: [u8; 20], proof: &[u8], instances: &[Fr]) -> Vec<u8> {
    let mut out = selector("verifyProof(address,bytes,uint256[])").to_vec();
    out.extend_from_slice(&[0u8; 12]);
    out.extend_from_slice(&vk);
    encode_tail(&mut out, 1, proof, instances);
    out
}
