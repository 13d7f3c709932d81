//! Proving and verification: KZG on BN254, SHPLONK openings, EVM transcript.

use circuits::ModelCircuit;
use halo2_proofs::{
    plonk::{create_proof, verify_proof, ProvingKey, VerifyingKey},
    poly::kzg::{
        commitment::KZGCommitmentScheme,
        multiopen::{ProverSHPLONK, VerifierSHPLONK},
        strategy::SingleStrategy,
    },
};
use rand_core::OsRng;

use crate::{
    backend::Backend,
    error::ProverError,
    transcript::{ChallengeEvm, EvmTranscript},
    Bn256, Fr, G1Affine, ParamsKZG,
};

/// Proves `circuit` (which carries its witness) on the CPU; returns the proof
/// bytes and the public instances they were proven against.
pub fn prove(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: ModelCircuit,
) -> Result<(Vec<u8>, Vec<Fr>), ProverError> {
    prove_with(Backend::Cpu, params, pk, circuit)
}

/// [`prove`] on the chosen backend. [`Backend::Cuda`] needs a build with the
/// `cuda` feature; other builds return [`ProverError::BackendUnavailable`].
pub fn prove_with(
    backend: Backend,
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: ModelCircuit,
) -> Result<(Vec<u8>, Vec<Fr>), ProverError> {
    prove_with_points(backend, params, pk, circuit, None)
}

/// [`prove_with`] given the weight columns' commitments
/// (`--param-visibility polycommit`) when already known
/// ([`crate::polycommit::points`], e.g. cached): the proof is checked
/// against them instead of recomputing them.
pub fn prove_with_points(
    backend: Backend,
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: ModelCircuit,
    points: Option<Vec<G1Affine>>,
) -> Result<(Vec<u8>, Vec<Fr>), ProverError> {
    circuit.shape.check(&circuit.program)?;
    if circuit.shape.polycommit && !matches!(backend, Backend::Cpu) {
        return Err(ProverError::BackendUnavailable {
            backend: "cuda",
            reason: "committed weights (--param-visibility polycommit) need the CPU prover, whose blinding order \
                     prover::polycommit relies on and checks"
                .into(),
        });
    }
    match backend {
        Backend::Cpu => prove_cpu(params, pk, circuit, points),
        #[cfg(feature = "cuda")]
        Backend::Cuda => crate::cuda::prove(params, pk, circuit),
        #[cfg(not(feature = "cuda"))]
        Backend::Cuda => Err(backend.unavailable()),
    }
}

fn prove_cpu(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: ModelCircuit,
    points: Option<Vec<G1Affine>>,
) -> Result<(Vec<u8>, Vec<Fr>), ProverError> {
    let instances = circuit.instances();
    let mut transcript = EvmTranscript::<G1Affine, Vec<u8>>::new(Vec::new());
    let committed = match points {
        Some(p) if circuit.shape.polycommit => Some(p),
        _ => committed_points(params, &circuit)?,
    };
    let columns = if committed.is_some() { circuits::polycommit::column_indices(&circuit.shape) } else { vec![] };
    let rng = crate::polycommit::ZeroTails::new(OsRng, pk.get_vk(), &columns)?;
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, ChallengeEvm<G1Affine>, _, _, _>(
        params,
        pk,
        &[circuit],
        &[&[&instances]],
        rng,
        &mut transcript,
    )
    .map_err(|e| ProverError::Prove(format!("{e:?}")))?;
    let proof = transcript.into_inner();
    if let Some(points) = committed {
        crate::polycommit::check_proof(&proof, &columns, &points)?;
    }
    Ok((proof, instances))
}

/// The weight columns' commitments a proof of `circuit` must carry
/// (`--param-visibility polycommit`), `None` for other circuits.
pub(crate) fn committed_points(
    params: &ParamsKZG<Bn256>,
    circuit: &ModelCircuit,
) -> Result<Option<Vec<G1Affine>>, ProverError> {
    if !circuit.shape.polycommit {
        return Ok(None);
    }
    let values = circuit.program.params.as_ref().map(|p| p.values.as_slice()).unwrap_or_default();
    crate::polycommit::points(params, &circuit.program, &circuit.shape, values).map(Some)
}

/// Checks `proof` against the verifying key and public instances. Rejects
/// trailing bytes, so a proof has exactly one encoding.
pub fn verify(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    instances: &[Fr],
    proof: &[u8],
) -> Result<(), ProverError> {
    let mut reader = proof;
    // halo2's verifier indexes the key's vectors unchecked: keys are checked
    // on load (keys::check_vk), and a panic left is a rejection, not a crash.
    let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut transcript = EvmTranscript::<G1Affine, &mut &[u8]>::new(&mut reader);
        verify_proof::<
            KZGCommitmentScheme<Bn256>,
            VerifierSHPLONK<'_, Bn256>,
            ChallengeEvm<G1Affine>,
            _,
            SingleStrategy<'_, Bn256>,
        >(params, vk, SingleStrategy::new(params), &[&[instances]], &mut transcript)
    }));
    match verdict {
        Ok(r) => r.map_err(|e| ProverError::Rejected { reason: format!("{e:?}") })?,
        Err(_) => {
            return Err(ProverError::Rejected { reason: "the verifier stopped on a malformed key or proof".into() })
        }
    }
    if !reader.is_empty() {
        return Err(ProverError::TrailingBytes { count: reader.len() });
    }
    Ok(())
}
