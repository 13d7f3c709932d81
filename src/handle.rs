//! Long-lived handles for services: load a compiled model, its keys and its
//! SRS once, then prove or verify many requests, from many threads at once.
//!
//! [`Prover`] and [`Verifier`] are `Send + Sync`: they hold only read-only
//! data (the program, the proving or verifying key, the KZG parameters)
//! behind shared references, and no global state, so one handle in an
//! `Arc` serves every worker thread. Each call builds its own witness and
//! transcript.
//!
//! ```
//! # fn main() -> Result<(), zkinfer::Error> {
//! # let dir = tempdir();
//! use zkinfer::{CompileOptions, Prover, SrsSource, Verifier};
//! // A compiled folder with keys (once per model):
//! zkinfer::compile_bytes(zkinfer::EXAMPLE_MODEL, "example", &CompileOptions::default(), &dir)?;
//! zkinfer::setup(&dir, &SrsSource::Dev)?;
//!
//! // Load once...
//! let prover = Prover::load(&dir)?;
//! let verifier = Verifier::load(&dir)?;
//! // ...prove and verify many times, from any thread.
//! let n = prover.model().program.inputs[0].shape.iter().product::<usize>();
//! let proof = prover.prove(&[vec![0.25; n]])?.proof;
//! verifier.verify(&proof)?;
//! assert_eq!(proof.outputs.len(), 1);
//! # Ok(()) }
//! # fn tempdir() -> std::path::PathBuf {
//! #     let d = std::env::temp_dir().join(format!("zkinfer-doc-handle-{}", std::process::id()));
//! #     std::fs::create_dir_all(&d).unwrap();
//! #     d
//! # }
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use circuits::ModelCircuit;
use halo2_proofs::plonk::{ProvingKey, VerifyingKey};
use ir::{Program, Visibility};
use prover::{artifact, keys, srs, Backend, Bn256, Fr, G1Affine, ParamsKZG};

use crate::artifacts::{self, ProofFile};
use crate::error::{Error, VerifyFailure};
use crate::pipeline::{self, need, program_with_weights, CompiledModel, ProveOutcome};

/// A compiled model with its proving key and SRS in memory.
///
/// ```
/// fn assert_send_sync<T: Send + Sync>() {}
/// assert_send_sync::<zkinfer::Prover>();
/// assert_send_sync::<zkinfer::Verifier>();
/// ```
pub struct Prover {
    model: CompiledModel,
    pk: ProvingKey<G1Affine>,
    params: ParamsKZG<Bn256>,
    backend: Backend,
    /// Polycommit: the compiled weights' column commitments, when
    /// `weights.points` (setup) holds them.
    points: Option<Vec<G1Affine>>,
}

impl Prover {
    /// Loads `dir` (compiled and set up): program, settings, `pk.bin` and
    /// `srs.bin`, each checked against the program digest.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        Self::from_model(pipeline::load(dir)?)
    }

    /// [`Prover::load`] for a model already loaded with [`crate::load`].
    pub fn from_model(model: CompiledModel) -> Result<Self, Error> {
        let pk_path = need(&model.dir, artifacts::PK)?;
        let srs_path = need(&model.dir, artifacts::SRS)?;
        let params = srs::read(&srs_path, model.shape.k)?;
        let pk = keys::read_pk(&pk_path, &model.shape, &model.digest)?;
        let points = if model.shape.polycommit {
            let values = model.program.params.as_ref().map(|p| p.values.as_slice()).unwrap_or_default();
            let n = circuits::polycommit::column_indices(&model.shape).len();
            // A missing or stale cache only means recomputing the points.
            artifact::read(&model.dir.join(artifacts::POINTS))
                .ok()
                .and_then(|b| prover::polycommit::read_points_file(&b, &model.digest, values, n))
        } else {
            None
        };
        Ok(Prover { model, pk, params, backend: Backend::Cpu, points })
    }

    /// Proves on `backend` from now on; a backend this build lacks is an
    /// error at the first [`Prover::prove`].
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    pub fn model(&self) -> &CompiledModel {
        &self.model
    }

    /// A verifier for this model, sharing nothing mutable with the prover.
    pub fn verifier(&self) -> Verifier {
        Verifier { model: self.model.clone(), vk: self.pk.get_vk().clone(), params: self.params.clone() }
    }

    /// Proves the model on float inputs (one flattened list per input, the
    /// `input_data` form). Errors name the input, element and value
    /// ([`ir::IrError`]); nothing is proven when an input is out of range.
    pub fn prove(&self, inputs: &[Vec<f64>]) -> Result<ProveOutcome, Error> {
        self.prove_program(self.model.program.clone(), inputs)
    }

    /// [`Prover::prove`] with another weight set of the compiled
    /// architecture (an ONNX file), with the same keys.
    pub fn prove_weights(&self, inputs: &[Vec<f64>], weights: &Path) -> Result<ProveOutcome, Error> {
        self.prove_program(program_with_weights(&self.model, Some(weights))?, inputs)
    }

    pub(crate) fn prove_program(&self, program: Arc<Program>, inputs: &[Vec<f64>]) -> Result<ProveOutcome, Error> {
        let q = ir::eval::quantize_inputs(&program, inputs)?;
        self.prove_quantized(program, &q)
    }

    /// Proves on inputs that are already the circuit's integers (a segment's
    /// inputs: the previous segment's outputs). Range errors name the input.
    pub fn prove_integers(&self, inputs: &[Vec<i64>]) -> Result<ProveOutcome, Error> {
        self.prove_quantized(self.model.program.clone(), inputs)
    }

    fn prove_quantized(&self, program: Arc<Program>, q: &[Vec<i64>]) -> Result<ProveOutcome, Error> {
        self.backend.check()?;
        let m = &self.model;
        let t = Instant::now();
        let trace = ir::eval(&program, q)?;
        let mut commitments: std::collections::BTreeMap<String, String> =
            circuits::layout::commitments(&program, &trace)
                .into_iter()
                .map(|(part, d)| (part.to_string(), artifact::fr_to_hex(&d)))
                .collect();
        let witness_ms = t.elapsed().as_millis();
        let t = Instant::now();
        let outputs_quantized = trace.outputs(&program);
        let circuit = ModelCircuit::new(program.clone(), m.shape.clone(), Arc::new(trace));
        // The cached commitments serve the compiled weights only.
        let same = program.params.as_ref().map(|x| &x.values) == m.program.params.as_ref().map(|x| &x.values);
        let points = self.points.clone().filter(|_| same);
        let (proof, instances) = prover::prove_with_points(self.backend, &self.params, &self.pk, circuit, points)?;
        let prove_ms = t.elapsed().as_millis();
        if m.shape.polycommit {
            // Checked by the prover to be the off-circuit commitment.
            let columns = circuits::polycommit::column_indices(&m.shape);
            let d = prover::polycommit::proof_digest(&proof, &columns)
                .ok_or_else(|| prover::ProverError::Prove("proof too short for its weight columns".into()))?;
            commitments.insert("params".into(), artifact::to_hex(&d));
        }
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
}

/// A compiled model with its verifying key and SRS in memory.
pub struct Verifier {
    model: CompiledModel,
    vk: VerifyingKey<G1Affine>,
    params: ParamsKZG<Bn256>,
}

impl Verifier {
    /// Loads `dir`'s program, settings, `vk.bin` and `srs.bin`.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        Self::from_model(pipeline::load(dir)?)
    }

    /// [`Verifier::load`] for a model already loaded with [`crate::load`].
    pub fn from_model(model: CompiledModel) -> Result<Self, Error> {
        let dir = model.dir.clone();
        let vk = keys::read_vk(&need(&dir, artifacts::VK)?, &model.shape, &model.digest)?;
        let params = srs::read(&need(&dir, artifacts::SRS)?, model.shape.k)?;
        Ok(Verifier { model, vk, params })
    }

    pub fn model(&self) -> &CompiledModel {
        &self.model
    }

    /// Verifies a proof file (see [`Verifier::verify_named`]).
    pub fn verify(&self, proof: &ProofFile) -> Result<(), Error> {
        self.verify_named(proof, Path::new("<proof>"))
    }

    /// Verifies a proof file: its digest, instance count, commitments and
    /// claimed outputs against the proven instances
    /// ([`Error::Verify`] with a [`VerifyFailure`]), then the proof itself
    /// (`Error::Prover(Rejected | TrailingBytes)`). `name` labels errors.
    pub fn verify_named(&self, proof: &ProofFile, name: &Path) -> Result<(), Error> {
        let m = &self.model;
        let bad = |failure: VerifyFailure| Error::Verify { path: name.into(), failure };
        if proof.digest != artifact::to_hex(&m.digest) {
            return Err(bad(VerifyFailure::DigestMismatch {
                expected: artifact::to_hex(&m.digest),
                got: proof.digest.clone(),
            }));
        }
        let (bytes, instances) = pipeline::decode_proof(proof, name)?;
        if instances.len() != m.program.num_instances() {
            return Err(bad(VerifyFailure::InstanceCount {
                expected: m.program.num_instances(),
                got: instances.len(),
            }));
        }
        check_fields(m, proof).map_err(bad)?;
        check_claims(&m.program, proof, &instances).map_err(bad)?;
        if m.shape.polycommit {
            check_committed(&m.shape, proof, &bytes).map_err(bad)?;
        }
        prover::verify(&self.params, &self.vk, &instances, &bytes)?;
        Ok(())
    }
}

/// The proof file's descriptive fields: each must be what `prove` writes
/// for this model, so none can be edited to mislead a reader of the file.
fn check_fields(m: &CompiledModel, proof: &ProofFile) -> Result<(), VerifyFailure> {
    let shapes: Vec<Vec<usize>> = m.program.outputs.iter().map(|o| o.shape.clone()).collect();
    let fields = [
        ("k", proof.k.to_string(), m.shape.k.to_string()),
        ("scale_bits", proof.scale_bits.to_string(), m.program.quant.scale_bits.to_string()),
        ("output_shapes", format!("{:?}", proof.output_shapes), format!("{shapes:?}")),
        ("input_visibility", format!("{:?}", proof.input_visibility), format!("{:?}", m.program.input_visibility)),
        ("output_visibility", format!("{:?}", proof.output_visibility), format!("{:?}", m.program.output_visibility)),
    ];
    match fields.into_iter().find(|(_, claimed, compiled)| claimed != compiled) {
        Some((field, claimed, compiled)) => {
            Err(VerifyFailure::FieldDisagrees { field: field.into(), claimed, compiled })
        }
        None => Ok(()),
    }
}

/// `--param-visibility polycommit`: the claimed `commitments.params` must
/// be `keccak256` of the weight columns' commitments in the proof (the value
/// a registry approves; the proof itself is checked against those points).
fn check_committed(shape: &circuits::CircuitShape, proof: &ProofFile, bytes: &[u8]) -> Result<(), VerifyFailure> {
    let columns = circuits::polycommit::column_indices(shape);
    let proven = prover::polycommit::proof_digest(bytes, &columns).map(|d| artifact::to_hex(&d)).unwrap_or_default();
    match proof.commitments.get("params") {
        Some(c) if c.eq_ignore_ascii_case(&proven) => Ok(()),
        Some(c) => Err(VerifyFailure::CommitmentDisagrees { part: "params".into(), claimed: c.clone(), proven }),
        None => Err(VerifyFailure::CommitmentMissing { part: "params".into() }),
    }
}

/// The proof file's convenience fields (`commitments`, `outputs`,
/// `outputs_quantized`) against the proven instances.
fn check_claims(program: &Program, proof: &ProofFile, instances: &[Fr]) -> Result<(), VerifyFailure> {
    // The commitments are the last instances, one per hashed part.
    let parts = program.commitment_parts();
    let n_pub = instances.len() - parts.len();
    for (k, part) in parts.iter().enumerate() {
        let proven = artifact::fr_to_hex(&instances[n_pub + k]);
        match proof.commitments.get(*part) {
            Some(c) if c.eq_ignore_ascii_case(&proven) => {}
            Some(c) => {
                return Err(VerifyFailure::CommitmentDisagrees { part: part.to_string(), claimed: c.clone(), proven });
            }
            None => return Err(VerifyFailure::CommitmentMissing { part: part.to_string() }),
        }
    }
    // Hashed outputs: the claimed integers must be the committed ones.
    if let Some(k) = program.commitment_index("output") {
        let claimed: Vec<Fr> = proof.outputs_quantized.iter().flatten().map(|&v| circuits::fe(v)).collect();
        if circuits::poseidon::hash(&claimed) != instances[k] {
            return Err(VerifyFailure::OutputCommitmentDisagrees);
        }
    }
    let committed = program.params_polycommit().then_some("params");
    if let Some(extra) =
        proof.commitments.keys().find(|k| !parts.contains(&k.as_str()) && Some(k.as_str()) != committed)
    {
        return Err(VerifyFailure::CommitmentUnexpected { part: extra.clone() });
    }
    if program.output_visibility == Visibility::Public {
        let n_out: usize = program.outputs.iter().map(|o| program.nodes[o.value].len()).sum();
        let proven: Vec<Option<i64>> = instances[n_pub - n_out..n_pub].iter().map(circuits::fe_to_i64).collect();
        let claimed: Vec<i64> = proof.outputs_quantized.iter().flatten().copied().collect();
        let floats: Vec<f64> = proof.outputs.iter().flatten().copied().collect();
        // The floats the claimed integers stand for, output by output (a
        // claimed output of the wrong length makes the lengths differ below).
        let expected: Vec<f64> = if proof.outputs_quantized.len() == program.outputs.len() {
            proof.outputs_quantized.iter().enumerate().flat_map(|(k, v)| program.dequantize_output(k, v)).collect()
        } else {
            vec![]
        };
        let same_len = proven.len() == claimed.len() && claimed.len() == floats.len() && expected.len() == floats.len();
        if !same_len {
            return Err(VerifyFailure::OutputsDisagree { index: None });
        }
        let differs = proven
            .iter()
            .zip(&claimed)
            .zip(&floats)
            .zip(&expected)
            .position(|(((p, &c), &f), &e)| *p != Some(c) || (e - f).abs() >= 1e-9);
        if let Some(i) = differs {
            return Err(VerifyFailure::OutputsDisagree { index: Some(i) });
        }
    }
    Ok(())
}
