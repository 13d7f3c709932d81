//! On-chain verification: Solidity verifiers from a model folder's verifying
//! key, ABI calldata for a proof, and a check in an in-process EVM.

use std::path::Path;

use prover::{keys, srs};

use crate::artifacts::{self, ProofFile};
use crate::error::Error;
use crate::pipeline::{decode_proof, load, need, CompiledModel};

fn vk_and_params(
    dir: &Path,
) -> Result<(CompiledModel, halo2_proofs::plonk::VerifyingKey<prover::G1Affine>, prover::ParamsKZG<prover::Bn256>), Error>
{
    let m = load(dir)?;
    let vk = keys::read_vk(&need(dir, artifacts::VK)?, &m.shape, &m.digest)?;
    let params = srs::read(&need(dir, artifacts::SRS)?, m.shape.k)?;
    Ok((m, vk, params))
}

/// The self-contained verifier contract of the model in `dir`.
pub fn gen_verifier(dir: &Path) -> Result<String, Error> {
    let (m, vk, params) = vk_and_params(dir)?;
    Ok(verifier_gen::render_verifier(&params, &vk, m.program.num_instances())?)
}

/// The reusable verifier of the model's circuit shape and the model's VK
/// contract: `(verifier, vk contract)`.
pub fn gen_verifier_separate(dir: &Path) -> Result<(String, String), Error> {
    let (m, vk, params) = vk_and_params(dir)?;
    Ok(verifier_gen::render_separate(&params, &vk, m.program.num_instances())?)
}

/// Where the points and scalars sit in the model's proofs.
pub fn proof_sections(dir: &Path) -> Result<verifier_gen::ProofSections, Error> {
    let (_, vk, _) = vk_and_params(dir)?;
    Ok(verifier_gen::proof_sections(&vk)?)
}

/// The bytes of a model's proofs that hold its committed weight columns'
/// points (`--param-visibility polycommit`; `None` otherwise): the range
/// `PolycommitModelRegistry` hashes. The columns are consecutive advice
/// columns, whose commitments open the proof in column order.
pub fn committed_points_range(shape: &circuits::CircuitShape) -> Option<std::ops::Range<usize>> {
    let cols = circuits::polycommit::column_indices(shape);
    let (first, last) = (*cols.first()?, *cols.last()?);
    debug_assert!(cols.windows(2).all(|w| w[1] == w[0] + 1), "weight columns are consecutive");
    let b = prover::polycommit::POINT_BYTES;
    Some(first * b..(last + 1) * b)
}

/// ABI-encoded `verifyProof(bytes,uint256[])` call, or with `vk_address`,
/// `verifyProof(address,bytes,uint256[])` of the reusable verifier.
pub fn calldata(proof: &ProofFile, proof_path: &Path, vk_address: Option<[u8; 20]>) -> Result<Vec<u8>, Error> {
    let (bytes, instances) = decode_proof(proof, proof_path)?;
    Ok(match vk_address {
        None => verifier_gen::encode_calldata(&bytes, &instances),
        Some(a) => verifier_gen::encode_calldata_separate(a, &bytes, &instances),
    })
}

/// What an in-EVM verification did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EvmOutcome {
    pub ok: bool,
    /// Gas of the `verifyProof` transaction.
    pub gas: u64,
    pub deploy_gas: u64,
    /// Deployed (runtime) code size of the verifier, in bytes.
    pub code_size: usize,
    /// The VK contract's, in the reusable form.
    pub vk_code_size: Option<usize>,
}

/// Compiles the model's verifier with solc-js (`solc_script`: the project's
/// `scripts/solc.js`), deploys it in revm and calls it with the proof.
#[cfg(feature = "evm")]
pub fn verify_evm(
    dir: &Path,
    proof: &ProofFile,
    proof_path: &Path,
    solc_script: &Path,
    separate: bool,
) -> Result<EvmOutcome, Error> {
    use verifier_gen::evm::{Evm, Solc};
    let solc = Solc::new(solc_script);
    let mut evm = Evm::new();
    let compile = |src: &str, name: &str| -> Result<Vec<u8>, Error> {
        let all = solc.compile(src)?;
        let c = all.into_iter().find(|c| c.name == name).ok_or_else(|| {
            Error::VerifierGen(verifier_gen::GenError::Solc { reason: format!("solc output lacks contract {name}") })
        })?;
        Ok(c.bytecode)
    };
    if separate {
        let (verifier, vk) = gen_verifier_separate(dir)?;
        let v = evm.deploy(&compile(&verifier, verifier_gen::REUSABLE_VERIFIER_NAME)?)?;
        let k = evm.deploy(&compile(&vk, verifier_gen::VK_NAME)?)?;
        let r = evm.call(v.address, calldata(proof, proof_path, Some(k.address))?)?;
        Ok(EvmOutcome {
            ok: r.returned_true(),
            gas: r.gas,
            deploy_gas: v.gas,
            code_size: v.code_size,
            vk_code_size: Some(k.code_size),
        })
    } else {
        let verifier = gen_verifier(dir)?;
        let v = evm.deploy(&compile(&verifier, verifier_gen::VERIFIER_NAME)?)?;
        let r = evm.call(v.address, calldata(proof, proof_path, None)?)?;
        Ok(EvmOutcome {
            ok: r.returned_true(),
            gas: r.gas,
            deploy_gas: v.gas,
            code_size: v.code_size,
            vk_code_size: None,
        })
    }
}

/// Compiles `source` with solc-js, deploys contract `name` (constructor
/// arguments: none) and calls it with `calldata`: for measuring any verifier
/// (ours, snark-verifier's, EZKL's) in the same EVM.
#[cfg(feature = "evm")]
pub fn call_contract(source: &str, name: &str, calldata: Vec<u8>, solc_script: &Path) -> Result<EvmOutcome, Error> {
    use verifier_gen::evm::{Evm, Solc};
    let all = Solc::new(solc_script).compile(source)?;
    let c = all.into_iter().find(|c| c.name == name).ok_or_else(|| {
        Error::VerifierGen(verifier_gen::GenError::Solc { reason: format!("no contract named {name} in the source") })
    })?;
    let mut evm = Evm::new();
    let d = evm.deploy(&c.bytecode)?;
    let r = evm.call(d.address, calldata)?;
    Ok(EvmOutcome { ok: r.returned_true(), gas: r.gas, deploy_gas: d.gas, code_size: d.code_size, vk_code_size: None })
}
