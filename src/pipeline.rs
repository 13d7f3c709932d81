//! compile → setup → prove → verify over an artifact folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use circuits::{CircuitShape, CostReport, Optimize};
use compiler::{CalibrationReport, CompileOptions};
use ir::{Program, Visibility};
use prover::{artifact, keys, srs, Backend, Fr};

use crate::artifacts::{self, path, ProofFile, Settings};
use crate::error::Error;

/// A compiled model as loaded from its folder.
#[derive(Clone, Debug)]
pub struct CompiledModel {
    pub dir: PathBuf,
    pub program: Arc<Program>,
    pub shape: CircuitShape,
    pub settings: Settings,
    pub digest: [u8; 32],
}

pub(crate) fn write_compiled(
    dir: &Path,
    (program, calibration): (Program, CalibrationReport),
    report: CostReport,
    goal: Optimize,
) -> Result<CompiledModel, Error> {
    let digest = keys::digest(&program, &report.shape);
    let mut settings = Settings::new(&program, &report, &digest, goal);
    settings.calibration = Some(calibration);
    let json = serde_json::to_vec_pretty(&settings).expect("settings serialize");
    // Keys of an earlier compile would no longer match: remove them first.
    for stale in [artifacts::PK, artifacts::VK, artifacts::SRS, artifacts::POINTS] {
        let _ = std::fs::remove_file(path(dir, stale));
    }
    artifact::write_atomic(&path(dir, artifacts::PROGRAM), &program.to_bytes())?;
    artifact::write_atomic(&path(dir, artifacts::SETTINGS), &json)?;
    Ok(CompiledModel { dir: dir.into(), program: Arc::new(program), shape: report.shape, settings, digest })
}

/// Compiles an ONNX file into `out_dir` (program.bin, settings.json), with
/// the planner's balanced goal.
pub fn compile(model: &Path, opts: &CompileOptions, out_dir: &Path) -> Result<CompiledModel, Error> {
    compile_for(model, opts, Optimize::Balanced, out_dir)
}

/// [`compile`] with the planner's goal: `Gas` for the cheapest on-chain
/// verification, `Prove` for the fastest proof.
pub fn compile_for(
    model: &Path,
    opts: &CompileOptions,
    goal: Optimize,
    out_dir: &Path,
) -> Result<CompiledModel, Error> {
    compile_limited(model, opts, goal, &circuits::Limits::default(), out_dir)
}

/// [`compile_for`] with the shape restricted by `limits` (`compile --lanes`,
/// `--max-memory`).
pub fn compile_limited(
    model: &Path,
    opts: &CompileOptions,
    goal: Optimize,
    limits: &circuits::Limits,
    out_dir: &Path,
) -> Result<CompiledModel, Error> {
    let compiled = compiler::compile_file_report(model, opts)?;
    let report = circuits::plan_limited(&compiled.0, goal, None, limits)?;
    write_compiled(out_dir, compiled, report, goal)
}

/// Compiles ONNX bytes (e.g. an embedded example) into `out_dir`.
pub fn compile_bytes(model: &[u8], name: &str, opts: &CompileOptions, out_dir: &Path) -> Result<CompiledModel, Error> {
    compile_bytes_for(model, name, opts, Optimize::Balanced, out_dir)
}

/// [`compile_bytes`] with the planner's goal.
pub fn compile_bytes_for(
    model: &[u8],
    name: &str,
    opts: &CompileOptions,
    goal: Optimize,
    out_dir: &Path,
) -> Result<CompiledModel, Error> {
    let compiled = compiler::compile_bytes_report(model, name, opts)?;
    let report = circuits::plan_for(&compiled.0, goal)?;
    write_compiled(out_dir, compiled, report, goal)
}

/// Loads a compiled model from its folder.
pub fn load(dir: &Path) -> Result<CompiledModel, Error> {
    let p = path(dir, artifacts::PROGRAM);
    if !p.exists() {
        return Err(Error::Missing { path: p, hint: "compile the model first (zkinfer compile MODEL.onnx -o DIR)" });
    }
    let program = Program::from_bytes(&artifact::read(&p)?)
        .map_err(|e| Error::File { path: p.clone(), reason: e.to_string() })?;
    let sp = path(dir, artifacts::SETTINGS);
    let settings: Settings = serde_json::from_slice(&artifact::read(&sp)?)
        .map_err(|e| Error::File { path: sp.clone(), reason: format!("invalid settings: {e}") })?;
    let shape = settings.shape.clone();
    let digest = keys::digest(&program, &shape);
    if artifact::to_hex(&digest) != settings.digest {
        return Err(Error::File {
            path: sp,
            reason: "does not belong to program.bin (digest differs); compile again".into(),
        });
    }
    // The shape is checked, not trusted: a settings.json edited consistently
    // (shape and digest) must not reach the circuit's assignment.
    shape.check(&program).map_err(|e| Error::File { path: sp, reason: e.to_string() })?;
    Ok(CompiledModel { dir: dir.into(), program: Arc::new(program), shape, settings, digest })
}

/// Where `setup` gets its SRS.
#[derive(Clone, Debug)]
pub enum SrsSource {
    /// A halo2 KZG params file; downsized when larger than needed.
    File(PathBuf),
    /// The deterministic development SRS (insecure), cached in this folder.
    DevCached(PathBuf),
    /// The deterministic development SRS (insecure), not cached.
    Dev,
}

pub struct SetupOutcome {
    pub k: u32,
    pub pk_bytes: usize,
    pub vk_bytes: usize,
    pub srs_ms: u128,
    pub keygen_ms: u128,
}

/// Writes pk.bin, vk.bin and srs.bin into the model folder.
pub fn setup(dir: &Path, srs_source: &SrsSource) -> Result<SetupOutcome, Error> {
    let m = load(dir)?;
    let k = m.shape.k;
    let t = Instant::now();
    let params = match srs_source {
        SrsSource::File(p) => srs::read(p, k)?,
        SrsSource::DevCached(cache) => srs::cached_dev_srs(cache, k)?,
        SrsSource::Dev => srs::dev_srs(k),
    };
    let srs_ms = t.elapsed().as_millis();
    let t = Instant::now();
    let keys = keys::keygen(&params, m.program.clone(), &m.shape)?;
    let keygen_ms = t.elapsed().as_millis();
    let vk = keys::vk_bytes(keys.vk(), &m.digest);
    srs::write(&path(dir, artifacts::SRS), &params)?;
    artifact::write_atomic(&path(dir, artifacts::VK), &vk)?;
    // Streamed: the key's bytes are never held beside the key.
    let pk_len = keys::write_pk(&path(dir, artifacts::PK), &keys.pk, &m.digest)?;
    drop(keys);
    if m.shape.polycommit {
        let values = m.program.params.as_ref().map(|p| p.values.as_slice()).unwrap_or_default();
        let points = prover::polycommit::points(&params, &m.program, &m.shape, values)?;
        let file = prover::polycommit::points_file(&m.digest, values, &points);
        artifact::write_atomic(&path(dir, artifacts::POINTS), &file)?;
    }
    Ok(SetupOutcome { k, pk_bytes: pk_len as usize, vk_bytes: vk.len(), srs_ms, keygen_ms })
}

pub struct ProveOutcome {
    pub proof: ProofFile,
    pub witness_ms: u128,
    pub prove_ms: u128,
}

/// `dir/name`, or an error saying to run setup first.
pub(crate) fn need(dir: &Path, name: &str) -> Result<PathBuf, Error> {
    let p = path(dir, name);
    if p.exists() {
        Ok(p)
    } else {
        Err(Error::Missing { path: p, hint: "run zkinfer setup DIR first" })
    }
}

/// Proves the model on float inputs (EZKL's `input_data` form: one flattened
/// list per input). Range violations are reported before proving starts.
pub fn prove(dir: &Path, inputs: &[Vec<f64>]) -> Result<ProveOutcome, Error> {
    prove_with(dir, inputs, Backend::Cpu)
}

/// [`prove`] on the chosen prover backend; a backend this build lacks is an
/// error before any work starts.
pub fn prove_with(dir: &Path, inputs: &[Vec<f64>], backend: Backend) -> Result<ProveOutcome, Error> {
    prove_weights(dir, inputs, backend, None)
}

/// The compiled program with the weights of `weights` (another model file of
/// the same architecture; see [`compiler::reweigh_file`]), or its own.
pub fn program_with_weights(m: &CompiledModel, weights: Option<&Path>) -> Result<Arc<Program>, Error> {
    match weights {
        None => Ok(m.program.clone()),
        Some(w) => {
            let p = compiler::reweigh_file(w, &m.program)?;
            // The circuit, and so the keys, must be the compiled ones.
            debug_assert_eq!(keys::digest(&p, &m.shape), m.digest);
            Ok(Arc::new(p))
        }
    }
}

/// [`prove_with`] with another weight set of the compiled architecture
/// (`weights`: its ONNX file), with the same keys; `None` proves the
/// compiled model's own weights. Loads the keys for this one call: a service
/// proving many inputs keeps a [`crate::Prover`] instead.
pub fn prove_weights(
    dir: &Path,
    inputs: &[Vec<f64>],
    backend: Backend,
    weights: Option<&Path>,
) -> Result<ProveOutcome, Error> {
    backend.check()?;
    let m = load(dir)?;
    // Inputs and weights are checked before the (large) proving key is read.
    let program = program_with_weights(&m, weights)?;
    ir::eval::quantize_inputs(&program, inputs)?;
    crate::handle::Prover::from_model(m)?.with_backend(backend).prove_program(program, inputs)
}

/// What `zkinfer commitment` prints: the Poseidon commitment of each part
/// asked for, 0x-hex 32 bytes big-endian (the instance the verifier sees).
/// `weights`: a model file of the compiled architecture (`None`: the
/// compiled weights); `inputs`: float inputs to commit to as the circuit
/// quantizes them.
pub fn commitments(
    dir: &Path,
    weights: Option<&Path>,
    with_params: bool,
    inputs: Option<&[Vec<f64>]>,
) -> Result<std::collections::BTreeMap<String, String>, Error> {
    let m = load(dir)?;
    let mut out = std::collections::BTreeMap::new();
    if with_params {
        let program = program_with_weights(&m, weights)?;
        let Some(ps) = &program.params else {
            return Err(Error::File {
                path: path(dir, artifacts::PROGRAM),
                reason: "the model was compiled with --param-visibility fixed: its weights are circuit constants, \
                         with no commitment (compile with --param-visibility hashed)"
                    .into(),
            });
        };
        if ps.visibility == Visibility::Polycommit {
            // keccak256 of the weight columns' KZG commitments: needs the SRS.
            let srs_path = need(dir, artifacts::SRS)?;
            let params = prover::srs::read(&srs_path, m.shape.k)?;
            let points = prover::polycommit::points(&params, &program, &m.shape, &ps.values)?;
            out.insert("params".into(), artifact::to_hex(&prover::polycommit::digest(&points)));
        } else {
            let msg: Vec<Fr> = ps.values.iter().map(|&v| circuits::fe(v)).collect();
            out.insert("params".into(), artifact::fr_to_hex(&circuits::poseidon::hash(&msg)));
        }
    }
    if let Some(inputs) = inputs {
        let q = ir::eval::quantize_inputs(&m.program, inputs)?;
        let trace = ir::eval(&m.program, &q)?;
        let msg: Vec<Fr> =
            circuits::layout::input_values(&m.program, &trace).iter().map(|&v| circuits::fe(v)).collect();
        out.insert("input".into(), artifact::fr_to_hex(&circuits::poseidon::hash(&msg)));
    }
    Ok(out)
}

/// A proof file's proof bytes and its one instance column.
pub fn decode_proof(proof: &ProofFile, proof_path: &Path) -> Result<(Vec<u8>, Vec<Fr>), Error> {
    let bad = |reason: String| Error::ProofFile { path: proof_path.into(), reason };
    let bytes = artifact::from_hex(&proof.proof).ok_or_else(|| bad("`proof` is not 0x-hex".into()))?;
    if proof.instances.len() != 1 {
        return Err(bad(format!("expected 1 instance column, got {}", proof.instances.len())));
    }
    let instances = proof.instances[0]
        .iter()
        .enumerate()
        .map(|(i, h)| {
            artifact::fr_from_hex(h)
                .ok_or_else(|| bad(format!("instance {i} is not a 32-byte word below the field modulus")))
        })
        .collect::<Result<_, _>>()?;
    Ok((bytes, instances))
}

pub fn read_proof_file(p: &Path) -> Result<ProofFile, Error> {
    let bytes = artifact::read(p)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::ProofFile { path: p.into(), reason: format!("not a zkinfer proof JSON: {e}") })
}

/// Verifies a proof against the model folder's verifying key. Also checks
/// that the convenience fields (`outputs`, `outputs_quantized`) agree with the
/// proven instances, so they cannot be edited after the fact. `proof_path`
/// names the proof in errors. A service keeps a [`crate::Verifier`].
pub fn verify(dir: &Path, proof: &ProofFile, proof_path: &Path) -> Result<(), Error> {
    crate::handle::Verifier::load(dir)?.verify_named(proof, proof_path)
}
