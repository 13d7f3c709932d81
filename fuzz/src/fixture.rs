//! The real artifacts the key, proof and program targets mutate: the
//! embedded example model (`zkinfer::EXAMPLE_MODEL`) compiled, set up with
//! the development SRS at the k the planner picks (the smallest its circuit
//! fits) and proven once. Made on first use and cached in the system temp
//! folder (keys are megabytes: too big to commit), keyed by the model bytes
//! and the program format version.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use prover::{keys, srs, Bn256, Fr, G1Affine, ParamsKZG};
use sha3::{Digest, Keccak256};
use zkinfer::{CompileOptions, CompiledModel, ProofFile, SrsSource, Verifier};

type VerifyingKey = halo2_proofs::plonk::VerifyingKey<G1Affine>;

pub struct Fixture {
    pub dir: PathBuf,
    pub model: CompiledModel,
    pub verifier: Verifier,
    pub vk: VerifyingKey,
    pub params: ParamsKZG<Bn256>,
    /// The honest proof file and its decoded parts.
    pub proof: ProofFile,
    pub proof_json: Vec<u8>,
    pub proof_bytes: Vec<u8>,
    pub instances: Vec<Fr>,
    /// The key files (header and body).
    pub vk_file: Vec<u8>,
    pub pk_file: Vec<u8>,
}

const PROOF: &str = "proof.json";

/// The fixture, made (or loaded from the cache) on first call; the error
/// (or panic) that prevented it, every call, otherwise.
pub fn get() -> Result<&'static Fixture, String> {
    static F: OnceLock<Result<Fixture, String>> = OnceLock::new();
    let made = F.get_or_init(|| {
        // A panic here is a bug of the code under test met before fuzzing
        // starts: reported as the target's setup failure, not swallowed.
        match std::panic::catch_unwind(load_or_make) {
            Ok(Ok(f)) => Ok(f),
            Ok(Err(e)) => Err(format!("cannot make the example fixture: {e}")),
            Err(p) => Err(format!("making the example fixture panicked: {}", crate::runner::payload_text(&*p))),
        }
    });
    made.as_ref().map_err(Clone::clone)
}

/// The example model's program alone (compiled once; no keys needed).
pub fn example_program() -> Result<&'static ir::Program, String> {
    static P: OnceLock<Result<ir::Program, String>> = OnceLock::new();
    P.get_or_init(|| {
        compiler::compile_bytes(zkinfer::EXAMPLE_MODEL, "example", &CompileOptions::default())
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn cache_dir() -> PathBuf {
    let mut h = Keccak256::new();
    h.update(zkinfer::EXAMPLE_MODEL);
    h.update(ir::program::FORMAT_VERSION.to_le_bytes());
    h.update(env!("CARGO_PKG_VERSION"));
    let tag = prover::artifact::to_hex(&h.finalize()[..6]);
    std::env::temp_dir().join(format!("zkinfer-fuzz-fixture-{}", &tag[2..]))
}

fn load_or_make() -> Result<Fixture, zkinfer::Error> {
    let dir = cache_dir();
    if let Ok(f) = load(&dir) {
        return Ok(f);
    }
    // Made in a private folder and renamed: concurrent fuzzers never see a
    // half-made cache.
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| prover::ProverError::io(&tmp, e))?;
    make(&tmp)?;
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process won the race (or a stale cache is in the way).
        if load(&dir).is_err() {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::rename(&tmp, &dir).map_err(|e| prover::ProverError::io(&dir, e))?;
        } else {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    load(&dir)
}

fn make(dir: &Path) -> Result<(), zkinfer::Error> {
    zkinfer::compile_bytes(zkinfer::EXAMPLE_MODEL, "example", &CompileOptions::default(), dir)?;
    zkinfer::setup(dir, &SrsSource::Dev)?;
    let prover = zkinfer::Prover::load(dir)?;
    let n: usize = prover.model().program.inputs.iter().map(|i| i.shape.iter().product::<usize>()).sum();
    let input = vec![(0..n).map(|i| ((i * 7) % 17) as f64 / 17.0 - 0.5).collect::<Vec<f64>>()];
    let proof = prover.prove(&input)?.proof;
    let json = serde_json::to_vec_pretty(&proof).expect("a proof file serializes");
    prover::artifact::write_atomic(&dir.join(PROOF), &json)?;
    Ok(())
}

fn load(dir: &Path) -> Result<Fixture, zkinfer::Error> {
    let model = zkinfer::load(dir)?;
    let verifier = Verifier::load(dir)?;
    let proof = zkinfer::read_proof_file(&dir.join(PROOF))?;
    verifier.verify(&proof)?;
    let (proof_bytes, instances) = zkinfer::pipeline::decode_proof(&proof, Path::new(PROOF))?;
    let read = |name: &str| prover::artifact::read(&dir.join(name));
    let vk = keys::read_vk(&dir.join(zkinfer::artifacts::VK), &model.shape, &model.digest)?;
    let params = srs::read(&dir.join(zkinfer::artifacts::SRS), model.shape.k)?;
    Ok(Fixture {
        dir: dir.into(),
        verifier,
        vk,
        params,
        proof_json: read(PROOF)?,
        proof,
        proof_bytes,
        instances,
        vk_file: read(zkinfer::artifacts::VK)?,
        pk_file: read(zkinfer::artifacts::PK)?,
        model,
    })
}

/// A key file's body (after the 72-byte header).
pub fn key_body(file: &[u8]) -> &[u8] {
    &file[72.min(file.len())..]
}

/// A key file for `body`, with a valid header for the fixture's program:
/// magic and digest copied from `like`, the body's checksum recomputed, so
/// the mutant reaches halo2's key parser.
pub fn frame_like(like: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(72 + body.len());
    out.extend_from_slice(&like[..40]);
    out.extend_from_slice(&Keccak256::digest(body));
    out.extend_from_slice(body);
    out
}
