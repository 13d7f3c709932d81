//! Models split into segments (issue 14): `compile --max-k K | --segments N`
//! cuts the lowered program (`circuits::segment::plan_cuts`,
//! `ir::segment::split`) into consecutive segments, each its own compiled
//! folder `DIR/segment{i}/` (program, settings, and after `setup` its keys),
//! listed in `DIR/segments.json`. Segment `i`'s outputs are segment `i+1`'s
//! inputs, both Poseidon-hashed, so the verifier checks
//! `out_commit(i) == in_commit(i+1)` and never sees the activations.
//!
//! Proving evaluates every segment first (so an input out of range fails
//! before any proof), then proves them one after another, loading one
//! segment's keys at a time: peak memory is one segment's. `proof.json`
//! holds every segment's proof file, in order, and the model's outputs.
//! Verifying checks the segment count, each proof against its own segment's
//! keys (a reordered or foreign proof has another digest), the commitment
//! chain, and the outputs, naming the segment that fails.

use std::path::{Path, PathBuf};

use circuits::Optimize;
use compiler::CompileOptions;
use prover::artifact;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

use crate::artifacts::{self, ProofFile};
use crate::error::{Error, VerifyFailure};
use crate::pipeline::{self, SetupOutcome, SrsSource};

/// The manifest of a segmented folder.
pub const MANIFEST: &str = "segments.json";

/// One segment of a segmented folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentInfo {
    /// Its folder, relative to the model folder.
    pub dir: String,
    /// The whole program's nodes `[start, end)` it computes.
    pub nodes: [usize; 2],
    /// Elements it reads from the previous segment (0 for the first) and
    /// publishes to the next (the model's outputs for the last).
    pub input_elements: usize,
    pub output_elements: usize,
    pub k: u32,
    pub rows: usize,
    /// Its program-and-circuit digest (`settings.json` `digest`).
    pub digest: String,
}

/// `DIR/segments.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub model: String,
    /// The row budget the cuts were chosen for (`--max-k`), if given.
    pub max_k: Option<u32>,
    pub segments: Vec<SegmentInfo>,
    /// keccak256 of the segments' digests in order: what a proof names.
    pub digest: String,
}

/// A segmented model's proof file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SegmentedProof {
    /// The manifest's digest.
    pub digest: String,
    /// Each segment's proof file, in order.
    pub segments: Vec<ProofFile>,
    /// The model's outputs (the last segment's), as floats and integers.
    pub outputs: Vec<Vec<f64>>,
    pub outputs_quantized: Vec<Vec<i64>>,
    pub output_shapes: Vec<Vec<usize>>,
}

/// Whether `dir` holds a segmented model.
pub fn is_segmented(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}

fn file_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::File { path: path.into(), reason: reason.into() }
}

fn manifest_digest(segments: &[SegmentInfo]) -> String {
    let mut h = Keccak256::new();
    for s in segments {
        h.update(s.digest.as_bytes());
    }
    artifact::to_hex(&h.finalize())
}

/// Compiles `model` into segments that each fit `2^max_k` rows (`None`:
/// the planner's largest k), or into `segments` of them; writes
/// `out_dir/segments.json` and `out_dir/segment{i}/`.
pub fn compile(
    model: &Path,
    opts: &CompileOptions,
    goal: Optimize,
    out_dir: &Path,
    max_k: Option<u32>,
    segments: Option<usize>,
) -> Result<Manifest, Error> {
    let limits = circuits::Limits { max_k: max_k.unwrap_or(circuits::shape::MAX_K), ..Default::default() };
    compile_limited(model, opts, goal, out_dir, &limits, max_k, segments)
}

/// [`compile`] with every segment's shape within `limits`: `2^max_k` rows,
/// a forced lane count, and a predicted proof peak within
/// `limits.max_prove_bytes` (segments sized for a machine's memory: a
/// segment whose every shape would need more is cut again, smaller).
/// `max_k` is what the manifest records (`None`: chosen by the planner).
pub fn compile_limited(
    model: &Path,
    opts: &CompileOptions,
    goal: Optimize,
    out_dir: &Path,
    limits: &circuits::Limits,
    max_k: Option<u32>,
    segments: Option<usize>,
) -> Result<Manifest, Error> {
    let (program, calibration) = compiler::compile_file_report(model, opts)?;
    // Cuts are estimated at one lane count. Under a memory budget the
    // planner may need leaner shapes (fewer lanes, more rows) than the
    // estimate's: then cut again, estimating at fewer lanes.
    let tries: Vec<usize> = match (limits.lanes, limits.max_prove_bytes) {
        (Some(l), _) => vec![l],
        (None, Some(_)) => vec![circuits::segment::ESTIMATE_LANES, 8, 4],
        (None, None) => vec![circuits::segment::ESTIMATE_LANES],
    };
    let mut last_err = None;
    let mut found = None;
    for lanes in tries {
        match cut_within(&program, goal, limits, lanes, segments) {
            Ok(x) => {
                found = Some(x);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let Some((segs, reports)) = found else {
        return Err(last_err.expect("at least one try").into());
    };
    std::fs::create_dir_all(out_dir).map_err(|e| file_err(out_dir, e.to_string()))?;
    // A whole-model folder's files would shadow the segments.
    for stale in [artifacts::PROGRAM, artifacts::SETTINGS, artifacts::PK, artifacts::VK, artifacts::SRS] {
        let _ = std::fs::remove_file(out_dir.join(stale));
    }
    let mut infos = Vec::with_capacity(segs.len());
    for (i, (s, report)) in segs.into_iter().zip(reports).enumerate() {
        let name = format!("segment{i}");
        let dir = out_dir.join(&name);
        std::fs::create_dir_all(&dir).map_err(|e| file_err(&dir, e.to_string()))?;
        let elems = |p: &ir::Program, ids: &[usize]| ids.iter().map(|&v| p.nodes[v].len()).sum::<usize>();
        let (input_elements, output_elements) = (elems(&program, &s.inputs), elems(&program, &s.outputs));
        let m = pipeline::write_compiled(&dir, (s.program, calibration.clone()), report, goal)?;
        infos.push(SegmentInfo {
            dir: name,
            nodes: [s.nodes.start, s.nodes.end],
            input_elements,
            output_elements,
            k: m.shape.k,
            rows: m.settings.rows,
            digest: artifact::to_hex(&m.digest),
        });
    }
    let manifest = Manifest { model: program.name.clone(), max_k, digest: manifest_digest(&infos), segments: infos };
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    artifact::write_atomic(&out_dir.join(MANIFEST), &json)?;
    Ok(manifest)
}

/// Cuts `program` into segments (estimated at `lanes`) and plans each
/// within `limits`; a segment the planner cannot fit in `2^max_k` rows or
/// the memory budget is cut again with 0.8x its row budget. When no
/// smaller cut is possible, the error is the one that asked for it.
fn cut_within(
    program: &ir::Program,
    goal: Optimize,
    limits: &circuits::Limits,
    lanes: usize,
    segments: Option<usize>,
) -> Result<(Vec<ir::segment::Segment>, Vec<circuits::CostReport>), circuits::CircuitError> {
    let mut budget: Option<usize> = None;
    let mut why: Option<circuits::CircuitError> = None;
    loop {
        let cuts = match circuits::segment::plan_cuts_at(program, limits.max_k, segments, budget, lanes) {
            Ok(c) => c,
            // Cutting smaller is impossible: a memory budget is the reason
            // when it asked for the smaller cut.
            Err(e) => return Err(why.filter(|w| matches!(w, circuits::CircuitError::OverMemory { .. })).unwrap_or(e)),
        };
        let segs = ir::segment::split(program, &cuts)?;
        let mut reports = Vec::with_capacity(segs.len());
        let mut over = None;
        for (i, s) in segs.iter().enumerate() {
            match circuits::plan_limited(&s.program, goal, None, limits) {
                Ok(r) => reports.push(r),
                Err(e @ (circuits::CircuitError::TooLarge { .. } | circuits::CircuitError::OverMemory { .. })) => {
                    over = Some((i, e));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        let Some((i, e)) = over else { return Ok((segs, reports)) };
        let est = circuits::segment::estimate_rows_at(program, &cuts, lanes)[i];
        let next = est * 4 / 5;
        // A segment of one node that still does not fit: say why.
        if next < 16 || budget == Some(next) || segs[i].nodes.len() <= 1 {
            return Err(e);
        }
        budget = Some(next);
        why = Some(e);
    }
}

/// Reads `dir/segments.json`, checking each segment folder's digest.
pub fn load_manifest(dir: &Path) -> Result<Manifest, Error> {
    let p = dir.join(MANIFEST);
    let bytes = artifact::read(&p)?;
    let m: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| file_err(&p, format!("not a segments manifest: {e}")))?;
    if m.segments.is_empty() {
        return Err(file_err(&p, "lists no segments"));
    }
    for (i, s) in m.segments.iter().enumerate() {
        if s.dir.contains(['/', '\\']) || s.dir.starts_with('.') {
            return Err(file_err(&p, format!("segment {i}: folder {:?} is not a plain name", s.dir)));
        }
    }
    if manifest_digest(&m.segments) != m.digest {
        return Err(file_err(&p, "its digest does not match its segments; compile again"));
    }
    Ok(m)
}

fn segment_dir(dir: &Path, s: &SegmentInfo) -> PathBuf {
    dir.join(&s.dir)
}

/// Loads segment `i` and checks it is the one the manifest lists.
fn load_segment(dir: &Path, m: &Manifest, i: usize) -> Result<pipeline::CompiledModel, Error> {
    let s = &m.segments[i];
    let cm = pipeline::load(&segment_dir(dir, s)).map_err(|e| seg_err(i, e))?;
    if artifact::to_hex(&cm.digest) != s.digest {
        return Err(seg_err(
            i,
            file_err(&segment_dir(dir, s), "is not the segment segments.json lists; compile again"),
        ));
    }
    Ok(cm)
}

fn seg_err(index: usize, e: Error) -> Error {
    Error::Segment { index, source: Box::new(e) }
}

/// Sets up every segment (its own keys and SRS of its k).
pub fn setup(dir: &Path, srs: &SrsSource) -> Result<Vec<SetupOutcome>, Error> {
    let m = load_manifest(dir)?;
    (0..m.segments.len())
        .map(|i| {
            load_segment(dir, &m, i)?;
            pipeline::setup(&segment_dir(dir, &m.segments[i]), srs).map_err(|e| seg_err(i, e))
        })
        .collect()
}

/// What `prove` reports per segment.
pub struct SegmentProved {
    pub k: u32,
    pub prove_ms: u128,
}

/// Every segment's integer inputs for the model's float `inputs`: segment
/// 0's are the quantized inputs, segment i's the outputs of segment i-1
/// (each segment evaluated; a value out of range is an error naming the
/// segment and node, before any proof).
pub fn evaluate(dir: &Path, inputs: &[Vec<f64>]) -> Result<Vec<Vec<Vec<i64>>>, Error> {
    evaluate_in(dir, &load_manifest(dir)?, inputs)
}

/// [`evaluate`] with the manifest already read. Each segment's program is
/// loaded here and again when it is proven: holding every segment at once
/// would make peak memory the model's, not one segment's.
fn evaluate_in(dir: &Path, m: &Manifest, inputs: &[Vec<f64>]) -> Result<Vec<Vec<Vec<i64>>>, Error> {
    let n = m.segments.len();
    let mut ints: Vec<Vec<Vec<i64>>> = Vec::with_capacity(n);
    let mut last_outputs = vec![];
    for i in 0..n {
        let cm = load_segment(dir, m, i)?;
        let q = if i == 0 {
            ir::eval::quantize_inputs(&cm.program, inputs).map_err(|e| seg_err(0, e.into()))?
        } else {
            std::mem::take(&mut last_outputs)
        };
        let trace = ir::eval(&cm.program, &q).map_err(|e| seg_err(i, e.into()))?;
        last_outputs = trace.outputs(&cm.program);
        ints.push(q);
    }
    Ok(ints)
}

/// Proves segment `i` on its integer inputs (from [`evaluate`]) with its
/// own keys: what a Ray task runs (`zkinfer prove-segment`).
pub fn prove_one(dir: &Path, i: usize, ints: &[Vec<i64>], backend: prover::Backend) -> Result<ProofFile, Error> {
    let m = load_manifest(dir)?;
    if i >= m.segments.len() {
        return Err(file_err(&dir.join(MANIFEST), format!("has {} segments, no segment {i}", m.segments.len())));
    }
    let prover =
        crate::handle::Prover::from_model(load_segment(dir, &m, i)?).map_err(|e| seg_err(i, e))?.with_backend(backend);
    Ok(prover.prove_integers(ints).map_err(|e| seg_err(i, e))?.proof)
}

fn assemble(m: &Manifest, proofs: Vec<ProofFile>) -> SegmentedProof {
    let last = proofs.last().expect("at least one segment");
    SegmentedProof {
        digest: m.digest.clone(),
        outputs: last.outputs.clone(),
        outputs_quantized: last.outputs_quantized.clone(),
        output_shapes: last.output_shapes.clone(),
        segments: proofs,
    }
}

/// Proves every segment on `inputs` (the model's float inputs), one after
/// another in this process: all segments are evaluated first, then proven
/// one at a time with only that segment's keys loaded. `progress` is
/// called after each segment's proof.
pub fn prove(
    dir: &Path,
    inputs: &[Vec<f64>],
    backend: prover::Backend,
    mut progress: impl FnMut(usize, usize, &SegmentProved),
) -> Result<SegmentedProof, Error> {
    let m = load_manifest(dir)?;
    let n = m.segments.len();
    let ints = evaluate_in(dir, &m, inputs)?;
    let mut proofs = Vec::with_capacity(n);
    for (i, q) in ints.into_iter().enumerate() {
        let prover = crate::handle::Prover::from_model(load_segment(dir, &m, i)?)
            .map_err(|e| seg_err(i, e))?
            .with_backend(backend);
        let po = prover.prove_integers(&q).map_err(|e| seg_err(i, e))?;
        progress(i, n, &SegmentProved { k: po.proof.k, prove_ms: po.prove_ms });
        proofs.push(po.proof);
    }
    Ok(assemble(&m, proofs))
}

/// The Ray driver `prove_on_ray` runs (written next to the work files).
pub const RAY_DRIVER: &str = include_str!("../scripts/ray_prove.py");

/// How `prove_on_ray` reaches the cluster.
#[derive(Clone, Debug)]
pub struct RayOptions {
    /// The cluster's address (`scripts/ray-local.sh start` prints it).
    pub address: String,
    /// A python with `ray` importable (`scripts/ray-local.sh python`).
    pub python: PathBuf,
    /// The zkinfer binary every worker runs (a path valid on every node).
    pub zkinfer: PathBuf,
    /// Retries of a failed segment task.
    pub retries: u32,
    /// CPUs per segment task.
    pub cpus: f64,
    /// Test hook: segment whose first attempt fails.
    pub fail_first: Option<usize>,
}

/// Integer inputs of one segment, as `prove-segment --inputs` reads them.
#[derive(Serialize, Deserialize)]
pub struct SegmentInputs {
    pub inputs_quantized: Vec<Vec<i64>>,
}

/// Proves every segment as one task each on a Ray cluster
/// (`scripts/ray_prove.py`), through files in `dir/ray-work-<pid>/` (so
/// `dir` must be a folder every worker sees). `progress` gets each line
/// the driver prints (one per finished segment). The work folder is
/// removed afterwards.
pub fn prove_on_ray(
    dir: &Path,
    inputs: &[Vec<f64>],
    ray: &RayOptions,
    mut progress: impl FnMut(&str),
) -> Result<SegmentedProof, Error> {
    use std::io::BufRead;
    let m = load_manifest(dir)?;
    let ints = evaluate_in(dir, &m, inputs)?;
    let work = dir.join(format!("ray-work-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| file_err(&work, e.to_string()))?;
    let result = (|| {
        for (i, q) in ints.into_iter().enumerate() {
            let json = serde_json::to_vec(&SegmentInputs { inputs_quantized: q }).expect("inputs serialize");
            artifact::write_atomic(&work.join(format!("segment{i}.inputs.json")), &json)?;
        }
        let driver = work.join("ray_prove.py");
        artifact::write_atomic(&driver, RAY_DRIVER.as_bytes())?;
        let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let mut cmd = std::process::Command::new(&ray.python);
        cmd.arg(&driver)
            .args(["--address", &ray.address])
            .arg("--dir")
            .arg(abs(dir))
            .arg("--work")
            .arg(abs(&work))
            .arg("--zkinfer")
            .arg(abs(&ray.zkinfer))
            .args(["--segments", &m.segments.len().to_string()])
            .args(["--retries", &ray.retries.to_string()])
            .args(["--cpus", &ray.cpus.to_string()]);
        if let Some(f) = ray.fail_first {
            cmd.args(["--fail-first", &f.to_string()]);
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| file_err(&ray.python, format!("cannot run the Ray driver: {e}")))?;
        let stdout = child.stdout.take().expect("piped");
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            progress(&line);
        }
        let out = child.wait_with_output().map_err(|e| file_err(&ray.python, e.to_string()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().rev().take(8).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(file_err(&ray.python, format!("the Ray driver failed ({}): {}", out.status, tail.join(" | "))));
        }
        let mut proofs = Vec::with_capacity(m.segments.len());
        for i in 0..m.segments.len() {
            let p = work.join(format!("segment{i}.proof.json"));
            let pf: ProofFile = serde_json::from_slice(&artifact::read(&p)?)
                .map_err(|e| Error::ProofFile { path: p.clone(), reason: e.to_string() })?;
            proofs.push(pf);
        }
        Ok(assemble(&m, proofs))
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Verifies a segmented proof: digest, count, each segment's proof with its
/// own keys, the chain `out_commit(i) == in_commit(i+1)`, and that the
/// claimed outputs are the last segment's proven ones.
pub fn verify(dir: &Path, proof: &SegmentedProof, proof_path: &Path) -> Result<(), Error> {
    let m = load_manifest(dir)?;
    let bad = |failure: VerifyFailure| Error::Verify { path: proof_path.into(), failure };
    if proof.digest != m.digest {
        return Err(bad(VerifyFailure::DigestMismatch { expected: m.digest.clone(), got: proof.digest.clone() }));
    }
    if proof.segments.len() != m.segments.len() {
        return Err(bad(VerifyFailure::SegmentCount { expected: m.segments.len(), got: proof.segments.len() }));
    }
    for (i, p) in proof.segments.iter().enumerate() {
        let v = crate::handle::Verifier::from_model(load_segment(dir, &m, i)?).map_err(|e| seg_err(i, e))?;
        v.verify_named(p, proof_path).map_err(|e| seg_err(i, e))?;
        if i > 0 {
            let out = proof.segments[i - 1].commitments.get("output");
            let inp = p.commitments.get("input");
            if out.is_none() || out != inp {
                return Err(bad(VerifyFailure::SegmentChain {
                    segment: i,
                    output: out.cloned().unwrap_or_default(),
                    input: inp.cloned().unwrap_or_default(),
                }));
            }
        }
    }
    let last = proof.segments.last().expect("count checked");
    if proof.outputs != last.outputs
        || proof.outputs_quantized != last.outputs_quantized
        || proof.output_shapes != last.output_shapes
    {
        return Err(bad(VerifyFailure::OutputsDisagree { index: None }));
    }
    Ok(())
}

/// Reads a segmented proof file.
pub fn read_proof(p: &Path) -> Result<SegmentedProof, Error> {
    let bytes = artifact::read(p)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::ProofFile { path: p.into(), reason: format!("not a segmented zkinfer proof JSON: {e}") })
}

/// The entry contract of a segmented model's on-chain verification.
pub const SEGMENTED_VERIFIER_SOL: &str = include_str!("../contracts/SegmentedVerifier.sol");
/// Its contract name.
pub const SEGMENTED_VERIFIER_NAME: &str = "SegmentedVerifier";

/// Each segment's Solidity verifier (`onchain::gen_verifier` of its folder), in order.
pub fn gen_verifiers(dir: &Path) -> Result<Vec<String>, Error> {
    let m = load_manifest(dir)?;
    (0..m.segments.len())
        .map(|i| {
            load_segment(dir, &m, i)?;
            crate::onchain::gen_verifier(&segment_dir(dir, &m.segments[i])).map_err(|e| seg_err(i, e))
        })
        .collect()
}

/// Per segment, where its input and its output commitment sit among its
/// instances (0 where it has none: the first's input, the last's output).
pub fn commitment_indices(dir: &Path) -> Result<(Vec<usize>, Vec<usize>), Error> {
    let m = load_manifest(dir)?;
    let mut ins = vec![];
    let mut outs = vec![];
    for i in 0..m.segments.len() {
        let cm = load_segment(dir, &m, i)?;
        ins.push(cm.program.commitment_index("input").unwrap_or(0));
        outs.push(cm.program.commitment_index("output").unwrap_or(0));
    }
    Ok((ins, outs))
}

/// What the on-chain check of a segmented proof did.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentedEvmOutcome {
    /// `verifyProofs` returned true.
    pub ok: bool,
    /// Gas of the one `verifyProofs` transaction (every segment and the chain).
    pub gas: u64,
    /// Each segment's own `verifyProof` transaction, for comparison.
    pub segment_gas: Vec<u64>,
    /// Deployment gas: the segment verifiers, then the entry contract.
    pub deploy_gas: Vec<u64>,
}

fn word(v: usize) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&(v as u64).to_be_bytes());
    w
}

fn words_array(ws: &[[u8; 32]]) -> Vec<u8> {
    let mut out = word(ws.len()).to_vec();
    for w in ws {
        out.extend_from_slice(w);
    }
    out
}

fn bytes_value(b: &[u8]) -> Vec<u8> {
    let mut out = word(b.len()).to_vec();
    out.extend_from_slice(b);
    out.resize(32 + b.len().div_ceil(32) * 32, 0);
    out
}

/// ABI body of a dynamic array of dynamic items (already encoded): its
/// length, then the items encoded as a tuple.
fn dyn_array(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = word(items.len()).to_vec();
    out.extend(tuple(items));
    out
}

/// ABI encoding of a tuple of dynamic values (each already encoded).
fn tuple(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![];
    let mut off = 32 * parts.len();
    for p in parts {
        out.extend_from_slice(&word(off));
        off += p.len();
    }
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// Calldata of `verifyProofs(bytes[] proofs, uint256[][] instances)`.
pub fn verify_proofs_calldata(proof: &SegmentedProof, proof_path: &Path) -> Result<Vec<u8>, Error> {
    let mut proofs = vec![];
    let mut instances = vec![];
    for p in &proof.segments {
        let (bytes, inst) = pipeline::decode_proof(p, proof_path)?;
        proofs.push(bytes_value(&bytes));
        let ws: Vec<[u8; 32]> = inst.iter().map(crate::registry::fr_word).collect();
        instances.push(words_array(&ws));
    }
    let mut out = verifier_gen::evm::selector("verifyProofs(bytes[],uint256[][])").to_vec();
    out.extend(tuple(&[dyn_array(&proofs), dyn_array(&instances)]));
    Ok(out)
}

/// Deploys every segment's verifier and `SegmentedVerifier` in revm and
/// checks `proof` in one `verifyProofs` call (`solc_script`: the project's
/// `scripts/solc.js`).
pub fn verify_evm(
    dir: &Path,
    proof: &SegmentedProof,
    proof_path: &Path,
    solc_script: &Path,
) -> Result<SegmentedEvmOutcome, Error> {
    use verifier_gen::evm::{Evm, Solc};
    let solc = Solc::new(solc_script);
    let mut evm = Evm::new();
    let compile = |src: &str, name: &str| -> Result<Vec<u8>, Error> {
        let c = solc.compile(src)?.into_iter().find(|c| c.name == name).ok_or_else(|| {
            Error::VerifierGen(verifier_gen::GenError::Solc { reason: format!("solc output lacks contract {name}") })
        })?;
        Ok(c.bytecode)
    };
    let sources = gen_verifiers(dir)?;
    if proof.segments.len() != sources.len() {
        return Err(Error::Verify {
            path: proof_path.into(),
            failure: VerifyFailure::SegmentCount { expected: sources.len(), got: proof.segments.len() },
        });
    }
    let (ins, outs) = commitment_indices(dir)?;
    let (mut addresses, mut deploy_gas, mut segment_gas) = (vec![], vec![], vec![]);
    for (i, src) in sources.iter().enumerate() {
        let d = evm.deploy(&compile(src, verifier_gen::VERIFIER_NAME)?)?;
        let r = evm.call(d.address, crate::onchain::calldata(&proof.segments[i], proof_path, None)?)?;
        segment_gas.push(r.gas);
        addresses.push(d.address);
        deploy_gas.push(d.gas);
    }
    let mut code = compile(SEGMENTED_VERIFIER_SOL, SEGMENTED_VERIFIER_NAME)?;
    let addr_words: Vec<[u8; 32]> = addresses
        .iter()
        .map(|a| {
            let mut w = [0u8; 32];
            w[12..].copy_from_slice(a);
            w
        })
        .collect();
    let idx = |v: &[usize]| words_array(&v.iter().map(|&x| word(x)).collect::<Vec<_>>());
    code.extend(tuple(&[words_array(&addr_words), idx(&ins), idx(&outs)]));
    let entry = evm.deploy(&code)?;
    deploy_gas.push(entry.gas);
    let r = evm.call(entry.address, verify_proofs_calldata(proof, proof_path)?)?;
    Ok(SegmentedEvmOutcome { ok: r.returned_true(), gas: r.gas, segment_gas, deploy_gas })
}
