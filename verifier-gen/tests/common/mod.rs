//! Shared helpers of the EVM tests: proofs of real models through the public
//! APIs (compile, plan, keygen, prove), made once per model and reused.
#![allow(dead_code)]

pub mod oracle;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use circuits::ModelCircuit;
use halo2_proofs::{plonk::VerifyingKey, poly::kzg::commitment::ParamsKZG};
use prover::{keys, srs, Bn256, Fr, G1Affine};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `../shared/corpus` beside the checkout, when present.
pub fn corpus() -> Option<PathBuf> {
    let p = repo().join("..").join("shared").join("corpus");
    if p.join("ezkl").is_dir() {
        Some(p)
    } else {
        eprintln!("note: ../shared/corpus not found; corpus models skipped");
        None
    }
}

pub fn out_dir() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verifier-gen");
    std::fs::create_dir_all(&p).unwrap();
    p
}

pub struct Model {
    pub name: String,
    pub params: ParamsKZG<Bn256>,
    pub keys: keys::Keys,
    pub num_instances: usize,
    pub proof: Vec<u8>,
    pub instances: Vec<Fr>,
    pub k: u32,
}

impl Model {
    pub fn vk(&self) -> &VerifyingKey<G1Affine> {
        self.keys.vk()
    }
}

/// Compiles `dir/model.onnx` (calibrated on `dir/calibration.json` when
/// present, else on `dir/input.json`), makes keys and proves `dir/input.json`.
/// `name` may end in `@gas`: the gas layout (`compile --optimize gas`) with
/// public inputs, as the on-chain gas benchmark measures it.
pub fn prove_model(name: &str, dir: &Path) -> Model {
    let gas = name.ends_with("@gas");
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap_or_else(|e| panic!("{name}: {n}: {e}"));
    let inputs = compiler::parse_input_json(&read("input.json")).unwrap();
    let mut calibration = match std::fs::read_to_string(dir.join("calibration.json")) {
        Ok(t) => compiler::parse_calibration_json(&t).unwrap(),
        Err(_) => vec![],
    };
    calibration.push(inputs.clone());
    let mut opts = compiler::CompileOptions { calibration, ..Default::default() };
    let goal = if gas {
        opts.input_visibility = ir::Visibility::Public;
        circuits::Optimize::Gas
    } else {
        circuits::Optimize::Balanced
    };
    let program = compiler::compile_file(&dir.join("model.onnx"), &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let report = circuits::plan_for(&program, goal).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(report.shape.bits.is_some() || !gas, "{name}: the gas goal picks the gas layout");
    let k = report.shape.k;
    let params = srs::cached_dev_srs(&out_dir().join("srs-cache"), k).unwrap();
    let program = Arc::new(program);
    let keys = keys::keygen(&params, program.clone(), &report.shape).unwrap();
    let q = ir::eval::quantize_inputs(&program, &inputs).unwrap();
    let trace = ir::eval(&program, &q).unwrap();
    let circuit = ModelCircuit::new(program.clone(), report.shape.clone(), Arc::new(trace));
    let (proof, instances) = prover::prove(&params, &keys.pk, circuit).unwrap();
    prover::verify(&params, keys.vk(), &instances, &proof).unwrap();
    Model { name: name.into(), params, keys, num_instances: instances.len(), proof, instances, k }
}
