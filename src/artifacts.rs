//! The files of an artifact folder and of a proof.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use circuits::{CircuitShape, CostReport, Optimize};
use ir::{Op, Program, Visibility};
use serde::{Deserialize, Serialize};

pub const PROGRAM: &str = "program.bin";
pub const SETTINGS: &str = "settings.json";
pub const PK: &str = "pk.bin";
pub const VK: &str = "vk.bin";
pub const SRS: &str = "srs.bin";
/// `--param-visibility polycommit`: the compiled weights' column commitments
/// (`prover::polycommit::points_file`), written by setup, read by the prover.
pub const POINTS: &str = "weights.points";

pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// `settings.json`: what was compiled and how the circuit is laid out.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    pub model: String,
    pub program_format_version: u32,
    /// Keccak digest of the program and circuit shape; keys and proofs carry it.
    pub digest: String,
    pub k: u32,
    pub rows: usize,
    pub usable_rows: usize,
    pub lanes: usize,
    pub advice_columns: usize,
    pub fixed_columns: usize,
    pub lookups: usize,
    pub lookup_table_rows: usize,
    pub scale_bits: u32,
    pub range_bits: u32,
    /// Limb width of range checks (lookup table: 2^(limb_bits+1) rows).
    pub limb_bits: u32,
    pub input_visibility: Visibility,
    pub output_visibility: Visibility,
    pub param_visibility: Visibility,
    /// Witness parameters (`--param-visibility private|hashed`): how many.
    #[serde(default)]
    pub num_params: usize,
    /// Index among the instances of each hashed part's commitment
    /// (`"params"`, `"input"`, `"output"`): e.g. a registry contract's `paramsIndex`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub commitment_instances: BTreeMap<String, usize>,
    pub num_instances: usize,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    /// ir ops by kind, and the multiply-adds they constrain.
    pub op_counts: BTreeMap<String, usize>,
    pub macs: usize,
    pub estimated_cost: u64,
    pub shape: CircuitShape,
    pub layout_candidates: Vec<circuits::shape::Candidate>,
    /// The planner's goal (`compile --optimize`).
    #[serde(default)]
    pub optimize: Optimize,
    /// `"limbs"` (range checks by limb lookups) or `"bits"` (the gas layout:
    /// digit blocks, no lookups).
    #[serde(default)]
    pub layout: String,
    /// Commitments the verifier combines (proof and key): what verification gas grows with.
    #[serde(default)]
    pub commitments: usize,
    /// Predicted peak memory of one proof, bytes (`circuits::prove_bytes`;
    /// 0 in folders compiled before it was recorded).
    #[serde(default)]
    pub predicted_prove_bytes: u64,
    /// How the fixed-point settings were chosen: samples, range margin,
    /// input bounds, every scale tried with its error (absent in folders
    /// compiled before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<compiler::CalibrationReport>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
}

impl Settings {
    pub fn new(program: &Program, report: &CostReport, digest: &[u8; 32], optimize: Optimize) -> Self {
        let mut op_counts = BTreeMap::new();
        let mut macs = 0;
        for n in &program.nodes {
            *op_counts.entry(n.op.kind().to_string()).or_insert(0) += 1;
            match &n.op {
                Op::Linear(l) => macs += l.cols.len(),
                Op::Bilinear(b) => macs += b.pairs.len(),
                _ => {}
            }
        }
        Settings {
            model: program.name.clone(),
            program_format_version: program.format_version,
            digest: prover::artifact::to_hex(digest),
            k: report.shape.k,
            rows: report.rows,
            usable_rows: report.usable_rows,
            lanes: report.shape.lanes,
            advice_columns: report.advice_columns,
            fixed_columns: report.fixed_columns,
            lookups: report.lookups,
            lookup_table_rows: report.table_rows,
            scale_bits: program.quant.scale_bits,
            range_bits: program.quant.range_bits,
            limb_bits: report.shape.limb_bits,
            input_visibility: program.input_visibility,
            output_visibility: program.output_visibility,
            param_visibility: program.params.as_ref().map_or(Visibility::Fixed, |p| p.visibility),
            num_params: program.params.as_ref().map_or(0, |p| p.values.len()),
            commitment_instances: program
                .commitment_parts()
                .into_iter()
                .filter_map(|part| Some((part.to_string(), program.commitment_index(part)?)))
                .collect(),
            num_instances: program.num_instances(),
            inputs: program
                .inputs
                .iter()
                .map(|i| TensorInfo { name: i.name.clone(), shape: i.shape.clone() })
                .collect(),
            outputs: program
                .outputs
                .iter()
                .map(|o| TensorInfo { name: o.name.clone(), shape: o.shape.clone() })
                .collect(),
            op_counts,
            macs,
            estimated_cost: report.cost,
            shape: report.shape.clone(),
            layout_candidates: report.candidates.clone(),
            optimize,
            layout: if report.shape.bits.is_some() { "bits" } else { "limbs" }.into(),
            commitments: report.commitments,
            predicted_prove_bytes: report.prove_bytes,
            calibration: None,
        }
    }
}

/// A proof and what it proves (`zkinfer prove -o PROOF.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProofFile {
    /// The proof bytes, 0x-hex.
    pub proof: String,
    /// Public instances per instance column, each a 0x-hex 32-byte big-endian word:
    /// public inputs (quantized) first, then public outputs, then the
    /// commitments of the hashed parts (`commitments`).
    pub instances: Vec<Vec<String>>,
    /// The model outputs as floats (dequantized), one list per output.
    pub outputs: Vec<Vec<f64>>,
    /// The outputs as the circuit's integers, at `scale_bits`.
    pub outputs_quantized: Vec<Vec<i64>>,
    pub output_shapes: Vec<Vec<usize>>,
    pub scale_bits: u32,
    pub k: u32,
    /// Digest of the program and circuit this proof is for.
    pub digest: String,
    pub input_visibility: Visibility,
    pub output_visibility: Visibility,
    /// The Poseidon commitment of each hashed part (`"params"`, `"input"`,
    /// `"output"`), 0x-hex 32 bytes big-endian: each equals its instance
    /// (the last instances, in that order), which `verify` checks.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub commitments: std::collections::BTreeMap<String, String>,
}
