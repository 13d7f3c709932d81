//! The CUDA prover: halo2-axiom-gpu 1.0.1, compiled only with the `cuda`
//! feature.
//!
//! UNTESTED: this module has never been compiled or run. The crate's build
//! script needs the CUDA toolkit (nvcc), which the development machines lack;
//! it was written against the crate's source (see docs/NOTES.md, "CUDA
//! backend", for what to check on a GPU machine).
//!
//! halo2-axiom-gpu re-exports halo2-axiom's `Circuit` frontend, `ProvingKey`,
//! transcript traits and `SerdeFormat` (it depends on halo2-axiom 0.5.3, the
//! version we use, so the types are ours). Our circuit, proving key and EVM
//! transcript therefore go in unchanged; only the KZG parameters are its own
//! type (the same fields and file layout, plus lazily uploaded device copies),
//! rebuilt here from ours through that common serialization. Proofs are
//! verified by the CPU verifier ([`crate::verify`]), as any other proof.

use std::panic::{catch_unwind, AssertUnwindSafe};

use circuits::ModelCircuit;
use halo2_axiom_gpu::{
    plonk::create_proof,
    poly::kzg::{
        commitment::{KZGCommitmentScheme, ParamsKZG as GpuParamsKZG},
        multiopen::ProverSHPLONK,
    },
    SerdeFormat,
};
use halo2_proofs::plonk::ProvingKey;
use rand_core::OsRng;

use crate::{
    error::ProverError,
    srs,
    transcript::{ChallengeEvm, EvmTranscript},
    Bn256, Fr, G1Affine, ParamsKZG,
};

/// Proves `circuit` with the CUDA prover; same contract as [`crate::prove`].
pub(crate) fn prove(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: ModelCircuit,
) -> Result<(Vec<u8>, Vec<Fr>), ProverError> {
    let gpu_params = to_gpu_params(params)?;
    let instances = circuit.instances();
    let mut transcript = EvmTranscript::<G1Affine, Vec<u8>>::new(Vec::new());
    // The crate initializes its CUDA context lazily and panics when there is
    // no usable device ("failed to create halo2-gpu GpuDeviceCtx"): report
    // that as an error rather than a crash.
    let result = catch_unwind(AssertUnwindSafe(|| {
        create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, ChallengeEvm<G1Affine>, _, _, _>(
            &gpu_params,
            pk,
            &[circuit],
            &[&[&instances]],
            OsRng,
            &mut transcript,
        )
    }));
    match result {
        Ok(Ok(())) => Ok((transcript.into_inner(), instances)),
        Ok(Err(e)) => Err(ProverError::Prove(format!("cuda: {e}"))),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            Err(ProverError::Prove(format!("cuda prover panicked (is a CUDA device available?): {msg}")))
        }
    }
}

/// halo2-axiom's KZG parameters as halo2-axiom-gpu's: both write and read
/// `k`, `g`, `g_lagrange`, `g2`, `s_g2` in the same layout. The points come
/// from our own checked parameters, so they are read back unchecked.
fn to_gpu_params(params: &ParamsKZG<Bn256>) -> Result<GpuParamsKZG<Bn256>, ProverError> {
    let bytes = srs::to_bytes(params);
    GpuParamsKZG::<Bn256>::read_custom(&mut bytes.as_slice(), SerdeFormat::RawBytesUnchecked)
        .map_err(|e| ProverError::Prove(format!("cuda: converting the SRS: {e}")))
}
