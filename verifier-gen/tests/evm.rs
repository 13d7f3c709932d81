//! The generated verifiers in a real EVM (revm), compiled with the pinned
//! solc-js: for each model and both forms (self-contained; reusable + VK
//! contract) the honest proof is accepted, and mutated proofs, changed
//! instances, wrong lengths and other models' proofs are refused.
//! snark-verifier's verifier for the same key is the oracle: it accepts the
//! same proof and refuses the same mutations. Prints gas and sizes.
#![cfg(feature = "evm")]

mod common;

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
};

use common::*;
use prover::Fr;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use verifier_gen::{
    encode_calldata, encode_calldata_separate,
    evm::{Evm, Solc},
};

/// A model with its proof and compiled verifiers.
struct Setup {
    m: Model,
    self_contained: Vec<u8>,
    reusable: Vec<u8>,
    vk_contract: Vec<u8>,
    oracle: Vec<u8>,
}

fn dir_of(name: &str) -> Option<std::path::PathBuf> {
    let name = name.split('@').next().unwrap_or(name);
    if name.starts_with("ezkl/") || name.starts_with("quantized/") {
        corpus().map(|c| c.join(name))
    } else {
        Some(repo().join(name))
    }
}

/// Proves and compiles once per model (tests share them).
fn setup(name: &str) -> Option<&'static Setup> {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static OnceLock<Setup>>>> = OnceLock::new();
    let cell: &'static OnceLock<Setup> = {
        let mut map = CACHE.get_or_init(Default::default).lock().unwrap();
        match map.get(name).copied() {
            Some(cell) => cell,
            None => {
                let cell: &'static OnceLock<Setup> = Box::leak(Box::new(OnceLock::new()));
                map.insert(name.to_string(), cell);
                cell
            }
        }
    };
    let dir = dir_of(name)?;
    Some(cell.get_or_init(|| {
        let m = prove_model(name, &dir);
        let file = name.replace(['/', '@'], "_");
        let single = verifier_gen::render_verifier(&m.params, m.vk(), m.num_instances).unwrap();
        let (reusable, vk) = verifier_gen::render_separate(&m.params, m.vk(), m.num_instances).unwrap();
        let oracle = oracle::solidity(&m.params, m.vk(), m.num_instances);
        for (suffix, src) in [("", &single), ("-reusable", &reusable), ("-vk", &vk), ("-snark-verifier", &oracle)] {
            std::fs::write(out_dir().join(format!("{file}{suffix}.sol")), src).unwrap();
        }
        let solc = Solc::default();
        Setup {
            self_contained: solc.compile_one(&single).unwrap(),
            reusable: solc.compile_one(&reusable).unwrap(),
            vk_contract: solc.compile_one(&vk).unwrap(),
            // snark-verifier's output compiles without the optimizer only.
            oracle: solc.clone().without_optimizer().compile_one(&oracle).unwrap(),
            m,
        }
    }))
}

/// Our two forms and the oracle, deployed in one EVM.
struct Deployed {
    evm: Evm,
    single: [u8; 20],
    reusable: [u8; 20],
    vk: [u8; 20],
    oracle: [u8; 20],
}

const EIP170: usize = 24_576;

fn deploy(name: &str, s: &Setup) -> Deployed {
    let mut evm = Evm::new();
    let single = evm.deploy(&s.self_contained).unwrap();
    let reusable = evm.deploy(&s.reusable).unwrap();
    let vk = evm.deploy(&s.vk_contract).unwrap();
    let oracle = evm.deploy(&s.oracle).unwrap();
    let d =
        Deployed { evm, single: single.address, reusable: reusable.address, vk: vk.address, oracle: oracle.address };
    println!(
        "{name}: k={} instances={} proof={} bytes\n  self-contained: size {} deploy gas {}\n  reusable: size {} deploy gas {}; VK contract size {} deploy gas {}\n  snark-verifier: size {} deploy gas {}",
        s.m.k,
        s.m.num_instances,
        s.m.proof.len(),
        single.code_size,
        single.gas,
        reusable.code_size,
        reusable.gas,
        vk.code_size,
        vk.gas,
        oracle.code_size,
        oracle.gas
    );
    assert!(single.code_size < EIP170, "{name}: self-contained verifier is {} bytes", single.code_size);
    assert!(reusable.code_size < EIP170, "{name}: reusable verifier is {} bytes", reusable.code_size);
    d
}

impl Deployed {
    /// `(self-contained accepts, reusable accepts)`.
    fn ours(&mut self, proof: &[u8], instances: &[Fr]) -> (bool, bool) {
        let a = self.evm.call(self.single, encode_calldata(proof, instances)).unwrap().returned_true();
        let b =
            self.evm.call(self.reusable, encode_calldata_separate(self.vk, proof, instances)).unwrap().returned_true();
        (a, b)
    }

    fn oracle(&mut self, proof: &[u8], instances: &[Fr]) -> bool {
        self.evm.call(self.oracle, oracle::calldata(proof, instances)).unwrap().success
    }
}

fn check_model(name: &str) {
    let Some(s) = setup(name) else { return };
    let m = &s.m;
    let mut d = deploy(name, s);

    // The honest proof.
    let r1 = d.evm.call(d.single, encode_calldata(&m.proof, &m.instances)).unwrap();
    let r2 = d.evm.call(d.reusable, encode_calldata_separate(d.vk, &m.proof, &m.instances)).unwrap();
    let r3 = d.evm.call(d.oracle, oracle::calldata(&m.proof, &m.instances)).unwrap();
    println!("  verify gas: self-contained {} reusable {} snark-verifier {}", r1.gas, r2.gas, r3.gas);
    // The bar: below snark-verifier's contract on the same proof (a
    // measured outcome, not a timing: it is deterministic gas).
    assert!(r1.gas < r3.gas, "{name}: verify gas {} not below snark-verifier's {}", r1.gas, r3.gas);
    assert!(r1.returned_true(), "{name}: self-contained verifier rejects the honest proof");
    assert!(r2.returned_true(), "{name}: reusable verifier rejects the honest proof");
    assert!(r3.success, "{name}: snark-verifier rejects the honest proof");

    // Random single-byte mutations: refused by ours and by the oracle.
    let mut rng = ChaCha20Rng::seed_from_u64(0x7a6b_0003);
    for _ in 0..24 {
        let mut bad = m.proof.clone();
        let pos = rng.next_u32() as usize % bad.len();
        bad[pos] ^= (rng.next_u32() % 255 + 1) as u8;
        assert_eq!(d.ours(&bad, &m.instances), (false, false), "{name}: mutated byte {pos} accepted");
        assert!(!d.oracle(&bad, &m.instances), "{name}: snark-verifier accepts mutated byte {pos}");
        assert!(prover::verify(&m.params, m.vk(), &m.instances, &bad).is_err());
    }
    // Each public instance changed.
    for i in 0..m.instances.len() {
        let mut wrong = m.instances.clone();
        wrong[i] += Fr::one();
        assert_eq!(d.ours(&m.proof, &wrong), (false, false), "{name}: changed instance {i} accepted");
    }
    // An instance given as itself plus the modulus (an unreduced word).
    if !m.instances.is_empty() {
        let mut cd = encode_calldata(&m.proof, &m.instances);
        let at = 4 + 0x60 + m.proof.len() + 0x20;
        add_modulus(&mut cd[at..at + 32]);
        assert!(!d.evm.call(d.single, cd).unwrap().returned_true(), "{name}: unreduced instance accepted");
    }
    // Wrong lengths: truncated, extended, fewer and more instances.
    let n = m.proof.len();
    for bad in [&m.proof[..n - 1], &m.proof[..n - 32], &m.proof[..0]] {
        assert_eq!(d.ours(bad, &m.instances), (false, false), "{name}: {}-byte proof accepted", bad.len());
    }
    for extra in [vec![0u8], vec![0u8; 32]] {
        let mut longer = m.proof.clone();
        longer.extend(extra);
        assert_eq!(d.ours(&longer, &m.instances), (false, false), "{name}: {}-byte proof accepted", longer.len());
    }
    if !m.instances.is_empty() {
        let fewer = &m.instances[..m.instances.len() - 1];
        assert_eq!(d.ours(&m.proof, fewer), (false, false), "{name}: fewer instances accepted");
    }
    let mut more = m.instances.clone();
    more.push(Fr::zero());
    assert_eq!(d.ours(&m.proof, &more), (false, false), "{name}: an extra instance accepted");
}

/// Adds r to a 32-byte big-endian word (which stays below 2^256 for our values).
fn add_modulus(word: &mut [u8]) {
    let r = hex32("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001");
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = word[i] as u16 + r[i] as u16 + carry;
        word[i] = s as u8;
        carry = s >> 8;
    }
}

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for i in 0..32 {
        out[i] = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn example_mlp() {
    check_model("examples/mlp");
}

#[test]
fn example_cnn() {
    check_model("examples/cnn");
}

#[test]
fn ezkl_1l_mlp() {
    check_model("ezkl/1l_mlp");
}

#[test]
fn ezkl_3l_relu_conv_fc() {
    check_model("ezkl/3l_relu_conv_fc");
}

#[test]
fn ezkl_1l_batch_norm() {
    check_model("ezkl/1l_batch_norm");
}

/// The gas layout (`compile --optimize gas`, no lookups) with public inputs:
/// what the gas benchmark against EZKL measures.
#[test]
fn ezkl_1l_mlp_gas_layout_public_input() {
    check_model("ezkl/1l_mlp@gas");
}

/// Dynamic quantization: the division gate (`chips/div.rs`, reads two rows
/// ahead) in the generated verifier.
#[test]
fn quantized_1l_mlp_dynamic() {
    check_model("quantized/1l_mlp_dynamic");
}

#[test]
fn ezkl_3l_relu_conv_fc_gas_layout_public_input() {
    check_model("ezkl/3l_relu_conv_fc@gas");
}

/// A proof of one model is refused by another model's verifiers (both
/// forms), and the reusable verifier refuses a VK contract of another shape.
#[test]
fn other_models_proofs_are_refused() {
    let (Some(a), Some(b)) = (setup("examples/mlp"), setup("examples/cnn")) else { return };
    let mut evm = Evm::new();
    let b_single = evm.deploy(&b.self_contained).unwrap().address;
    let b_reusable = evm.deploy(&b.reusable).unwrap().address;
    let b_vk = evm.deploy(&b.vk_contract).unwrap().address;
    let a_reusable = evm.deploy(&a.reusable).unwrap().address;
    let a_vk = evm.deploy(&a.vk_contract).unwrap().address;
    let (pa, ia) = (&a.m.proof, &a.m.instances);
    assert!(!evm.call(b_single, encode_calldata(pa, ia)).unwrap().returned_true());
    assert!(!evm.call(b_reusable, encode_calldata_separate(b_vk, pa, ia)).unwrap().returned_true());
    // A's proof with A's key, through B's reusable verifier (another shape): refused.
    assert!(!evm.call(b_reusable, encode_calldata_separate(a_vk, pa, ia)).unwrap().returned_true());
    // B's key (another shape) with A's reusable verifier: refused.
    assert!(!evm.call(a_reusable, encode_calldata_separate(b_vk, pa, ia)).unwrap().returned_true());
    // Not a VK contract at all.
    assert!(!evm.call(a_reusable, encode_calldata_separate(a_reusable, pa, ia)).unwrap().returned_true());
    // Sanity: A's own pair accepts.
    assert!(evm.call(a_reusable, encode_calldata_separate(a_vk, pa, ia)).unwrap().returned_true());
}

/// Two models of one circuit shape (equal but for a bias) share one deployed
/// reusable verifier: each proof is accepted with its own VK contract and
/// refused with the other's.
#[test]
fn one_reusable_verifier_serves_models_of_one_shape() {
    use std::sync::Arc;

    use circuits::{plan, ModelCircuit};
    use ir::*;

    let program = |bias: i64| {
        let s = 4;
        let mk = |name: &str, op: Op, shape: Vec<usize>| Node { name: name.into(), op, shape, scale: s };
        let nodes = vec![
            mk("x", Op::Input { index: 0 }, vec![1, 4]),
            mk(
                "fc",
                Op::Linear(LinearOp {
                    inputs: vec![0],
                    row_ptr: vec![0, 4, 8],
                    cols: vec![0, 1, 2, 3, 0, 1, 2, 3],
                    weights: vec![3, -2, 5, 1, -4, 7, 2, -1],
                    bias: vec![bias, -20],
                    params: None,
                }),
                vec![1, 2],
            ),
            mk("relu", Op::Requant(RequantOp { input: 1, shift: s, act: Activation::Relu }), vec![1, 2]),
        ];
        Arc::new(Program {
            format_version: FORMAT_VERSION,
            name: "tiny".into(),
            quant: QuantSettings { scale_bits: s, range_bits: 7 },
            inputs: vec![InputSpec { name: "x".into(), shape: vec![1, 4], bound: None, int_range: None }],
            nodes,
            outputs: vec![OutputSpec { name: "y".into(), value: 2, shape: vec![1, 2], dequant: None }],
            input_visibility: Visibility::Public,
            output_visibility: Visibility::Public,
            params: None,
        })
    };
    let mut evm = Evm::new();
    let mut verifier = None;
    let mut models = vec![];
    for bias in [10, 11] {
        let p = program(bias);
        let shape = plan(&p).unwrap().shape;
        let params = prover::srs::dev_srs(shape.k);
        let keys = prover::keygen(&params, p.clone(), &shape).unwrap();
        let trace = eval(&p, &[vec![16, -8, 24, 5]]).unwrap();
        let (proof, inst) =
            prover::prove(&params, &keys.pk, ModelCircuit::new(p.clone(), shape.clone(), Arc::new(trace))).unwrap();
        let (src, vk_src) = verifier_gen::render_separate(&params, keys.vk(), inst.len()).unwrap();
        match &verifier {
            None => verifier = Some((src.clone(), evm.deploy(&Solc::default().compile_one(&src).unwrap()).unwrap())),
            Some((first, _)) => assert_eq!(first, &src, "models of one shape get the same reusable verifier"),
        }
        let vk = evm.deploy(&Solc::default().compile_one(&vk_src).unwrap()).unwrap().address;
        models.push((vk, proof, inst));
    }
    let at = verifier.unwrap().1.address;
    for (i, (_, proof, inst)) in models.iter().enumerate() {
        for (j, (vk, _, _)) in models.iter().enumerate() {
            let ok = evm.call(at, encode_calldata_separate(*vk, proof, inst)).unwrap().returned_true();
            assert_eq!(ok, i == j, "proof {i} with key {j}");
        }
    }
}

/// Function tables (softmax: exp and reciprocal) share the first limb lookup
/// under their own selector: the generated verifier handles that expression.
#[test]
fn ezkl_1l_softmax() {
    check_model("ezkl/1l_softmax");
}
