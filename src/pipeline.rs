//! compile → setup → prove → verify over an artifact folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use circuits::{CircuitShape, CostReport, ModelCircuit, Optimize};
use compiler::{CalibrationReport, CompileOptions};
use ir::{Program, Visibility};
use prover::{artifact, keys, srs, Backend, Fr};

use crate::artifacts::{self, path, ProofFile, Settings};
use crate::error::Error;

/// A compiled model as loaded from its folder.
pub struct CompiledModel {
    pub dir: PathBuf,
    pub program: Arc<Program>,
    pub shape: CircuitShape,
    pub settings: Settings,
    pub digest: [u8; 32],
}

fn write_compiled(
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
    for stale in [artifacts::PK, artifacts::VK, artifacts::SRS] {
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
    let compiled = compiler::compile_file_report(model, opts)?;
    let report = circuits::plan_for(&compiled.0, goal)?;
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
    let pk = keys::pk_bytes(&keys.pk, &m.digest);
    let vk = keys::vk_bytes(keys.vk(), &m.digest);
    srs::write(&path(dir, artifacts::SRS), &params)?;
    artifact::write_atomic(&path(dir, artifacts::VK), &vk)?;
    artifact::write_atomic(&path(dir, artifacts::PK), &pk)?;
    Ok(SetupOutcome { k, pk_bytes: pk.len(), vk_bytes: vk.len(), srs_ms, keygen_ms })
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
/// compiled model's own weights.
pub fn prove_weights(
    dir: &Path,
    inputs: &[Vec<f64>],
    backend: Backend,
    weights: Option<&Path>,
) -> Result<ProveOutcome, Error> {
    backend.check()?;
    let m = load(dir)?;
    let pk_path = need(dir, artifacts::PK)?;
    let srs_path = need(dir, artifacts::SRS)?;
    let t = Instant::now();
    let program = program_with_weights(&m, weights)?;
    let q = ir::eval::quantize_inputs(&program, inputs)?;
    let trace = ir::eval(&program, &q)?;
    let commitments = circuits::layout::commitments(&program, &trace)
        .into_iter()
        .map(|(part, d)| (part.to_string(), artifact::fr_to_hex(&d)))
        .collect();
    let witness_ms = t.elapsed().as_millis();
    let params = srs::read(&srs_path, m.shape.k)?;
    let pk = keys::read_pk(&pk_path, &m.shape, &m.digest)?;
    let t = Instant::now();
    let outputs_quantized = trace.outputs(&program);
    let circuit = ModelCircuit::new(program.clone(), m.shape.clone(), Arc::new(trace));
    let (proof, instances) = prover::prove_with(backend, &params, &pk, circuit)?;
    let prove_ms = t.elapsed().as_millis();
    let outputs = outputs_quantized.iter().enumerate().map(|(k, v)| m.program.dequantize_output(k, v)).collect();
    let proof = ProofFile {
        proof: artifact::to_hex(&proof),
        instances: vec![instances.iter().map(artifact::fr_to_hex).collect()],
        outputs,
        outputs_quantized,
        output_shapes: m.program.outputs.iter().map(|o| o.shape.clone()).collect(),
        scale_bits: m.program.quant.scale_bits,
        k: m.shape.k,
        digest: artifact::to_hex(&m.digest),
        input_visibility: m.program.input_visibility,
        output_visibility: m.program.output_visibility,
        commitments,
    };
    Ok(ProveOutcome { proof, witness_ms, prove_ms })
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
        let msg: Vec<Fr> = ps.values.iter().map(|&v| circuits::fe(v)).collect();
        out.insert("params".into(), artifact::fr_to_hex(&circuits::poseidon::hash(&msg)));
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
/// proven instances, so they cannot be edited after the fact.
pub fn verify(dir: &Path, proof: &ProofFile, proof_path: &Path) -> Result<(), Error> {
    let m = load(dir)?;
    let bad = |reason: String| Error::ProofFile { path: proof_path.into(), reason };
    if proof.digest != artifact::to_hex(&m.digest) {
        return Err(bad(format!(
            "made for a different model or circuit (digest {}, this model's is {})",
            proof.digest,
            artifact::to_hex(&m.digest)
        )));
    }
    let vk = keys::read_vk(&need(dir, artifacts::VK)?, &m.shape, &m.digest)?;
    let params = srs::read(&need(dir, artifacts::SRS)?, m.shape.k)?;
    let (bytes, instances) = decode_proof(proof, proof_path)?;
    if instances.len() != m.program.num_instances() {
        return Err(bad(format!("expected {} public instances, got {}", m.program.num_instances(), instances.len())));
    }
    // The commitments are the last instances, one per hashed part.
    let parts = m.program.commitment_parts();
    let n_pub = instances.len() - parts.len();
    for (k, part) in parts.iter().enumerate() {
        let proven = artifact::fr_to_hex(&instances[n_pub + k]);
        match proof.commitments.get(*part) {
            Some(c) if c.eq_ignore_ascii_case(&proven) => {}
            Some(c) => {
                return Err(bad(format!("`commitments.{part}` is {c}, but the proven instance is {proven}")));
            }
            None => return Err(bad(format!("`commitments.{part}` is missing (the {part} are hashed)"))),
        }
    }
    // Hashed outputs: the claimed integers must be the committed ones.
    if let Some(k) = m.program.commitment_index("output") {
        let claimed: Vec<Fr> = proof.outputs_quantized.iter().flatten().map(|&v| circuits::fe(v)).collect();
        if circuits::poseidon::hash(&claimed) != instances[k] {
            return Err(bad("`outputs_quantized` do not hash to the proven output commitment".into()));
        }
    }
    if let Some(extra) = proof.commitments.keys().find(|k| !parts.contains(&k.as_str())) {
        return Err(bad(format!("`commitments.{extra}`: this model does not hash its {extra}")));
    }
    if m.program.output_visibility == Visibility::Public {
        let n_out: usize = m.program.outputs.iter().map(|o| m.program.nodes[o.value].len()).sum();
        let proven: Vec<Option<i64>> = instances[n_pub - n_out..n_pub].iter().map(circuits::fe_to_i64).collect();
        let claimed: Vec<i64> = proof.outputs_quantized.iter().flatten().copied().collect();
        let floats: Vec<f64> = proof.outputs.iter().flatten().copied().collect();
        // The floats the claimed integers stand for, output by output (a
        // claimed output of the wrong length makes the lengths differ below).
        let expected: Vec<f64> = if proof.outputs_quantized.len() == m.program.outputs.len() {
            proof.outputs_quantized.iter().enumerate().flat_map(|(k, v)| m.program.dequantize_output(k, v)).collect()
        } else {
            vec![]
        };
        let consistent = proven.len() == claimed.len()
            && claimed.len() == floats.len()
            && expected.len() == floats.len()
            && proven
                .iter()
                .zip(&claimed)
                .zip(&floats)
                .zip(&expected)
                .all(|(((p, &c), &f), &e)| *p == Some(c) && (e - f).abs() < 1e-9);
        if !consistent {
            return Err(bad("`outputs`/`outputs_quantized` do not match the proven output instances".into()));
        }
    }
    prover::verify(&params, &vk, &instances, &bytes)?;
    Ok(())
}
