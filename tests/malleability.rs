//! Proof malleability (issue 13): every way of re-encoding or bending a
//! valid proof, or its public instances, is rejected by the Rust verifier
//! (the `Verifier` handle, from `proof.json`) and by the generated Solidity
//! verifier (in revm), each case by a named test.
//!
//! One model (the embedded example MLP, public input and output, so there
//! are instances of both kinds), one proof, one deployed verifier; each test
//! mutates a copy.

mod common;

use std::sync::OnceLock;

use common::{repo, tmp};
use prover::Fr;
use zkinfer::{CompileOptions, ProofFile, SrsSource, Verifier, Visibility};

/// BN254's scalar field modulus r and base field modulus p, big-endian.
const R: &str = "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";
const P: &str = "30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";

struct Fixture {
    verifier: Verifier,
    proof: ProofFile,
    bytes: Vec<u8>,
    instances: Vec<Fr>,
    sections: verifier_gen::ProofSections,
    /// The self-contained verifier's bytecode; `None` without solc-js.
    bytecode: Option<Vec<u8>>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tmp("malleability");
        let opts = CompileOptions { input_visibility: Visibility::Public, ..CompileOptions::default() };
        zkinfer::compile_bytes(zkinfer::EXAMPLE_MODEL, "example", &opts, &dir).unwrap();
        zkinfer::setup(&dir, &SrsSource::DevCached(common::srs_cache())).unwrap();
        let verifier = Verifier::load(&dir).unwrap();
        let text = std::fs::read_to_string(repo().join("examples/mlp/input.json")).unwrap();
        let input = compiler::parse_input_json(&text).unwrap();
        let proof = zkinfer::prove(&dir, &input).unwrap().proof;
        let (bytes, instances) = zkinfer::pipeline::decode_proof(&proof, &dir.join("proof.json")).unwrap();
        let sections = zkinfer::onchain::proof_sections(&dir).unwrap();
        assert_eq!(sections.len, bytes.len());
        let solc = repo().join("scripts/solc.js");
        let bytecode = if repo().join("node_modules/solc").exists() {
            let src = zkinfer::onchain::gen_verifier(&dir).unwrap();
            let all = verifier_gen::evm::Solc::new(&solc).compile(&src).unwrap();
            Some(all.into_iter().find(|c| c.name == verifier_gen::VERIFIER_NAME).unwrap().bytecode)
        } else {
            eprintln!("note: solc-js not installed (bash scripts/npm-ci.sh); the Solidity half is skipped");
            None
        };
        Fixture { verifier, proof, bytes, instances, sections, bytecode }
    })
}

impl Fixture {
    /// The Rust verifier's answer on these proof bytes and instance words.
    fn rust_accepts(&self, bytes: &[u8], words: &[[u8; 32]]) -> bool {
        let mut p = self.proof.clone();
        p.proof = hex(bytes);
        p.instances = vec![words.iter().map(|w| hex(w)).collect()];
        self.verifier.verify(&p).is_ok()
    }

    /// The Solidity verifier's answer (`None` without solc-js).
    fn evm_accepts(&self, bytes: &[u8], words: &[[u8; 32]]) -> Option<bool> {
        let code = self.bytecode.as_ref()?;
        let mut evm = verifier_gen::evm::Evm::new();
        let d = evm.deploy(code).unwrap();
        let mut cd = verifier_gen::encode_calldata(bytes, &vec![Fr::zero(); words.len()]);
        let at = cd.len() - 32 * words.len();
        for (i, w) in words.iter().enumerate() {
            cd[at + 32 * i..at + 32 * (i + 1)].copy_from_slice(w);
        }
        Some(evm.call(d.address, cd).unwrap().returned_true())
    }

    fn words(&self) -> Vec<[u8; 32]> {
        self.instances.iter().map(fr_be).collect()
    }

    /// Asserts that both verifiers reject; `what` names the case.
    fn both_reject(&self, bytes: &[u8], words: &[[u8; 32]], what: &str) {
        assert!(!self.rust_accepts(bytes, words), "Rust verifier accepted {what}");
        if let Some(ok) = self.evm_accepts(bytes, words) {
            assert!(!ok, "Solidity verifier accepted {what}");
        }
    }

    /// Instances to aim at: the first two, a middle one, and the last 12 (every
    /// public output of the example and the last inputs).
    fn instance_sample(&self) -> Vec<usize> {
        let n = self.instances.len();
        let mut v: Vec<usize> = [0, 1, n / 2].into_iter().chain(n.saturating_sub(12)..n).collect();
        v.sort();
        v.dedup();
        v
    }

    /// A few offsets of each list: first, middle, last.
    fn sample(v: &[usize]) -> Vec<usize> {
        let mut s = vec![v[0], v[v.len() / 2], v[v.len() - 1]];
        s.dedup();
        s
    }
}

/// A field element as the EVM's big-endian word.
fn fr_be(f: &Fr) -> [u8; 32] {
    use halo2_proofs::halo2curves::ff::PrimeField;
    let mut w = f.to_repr();
    w.reverse();
    w
}

fn hex(b: &[u8]) -> String {
    format!("0x{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

fn word(s: &str) -> [u8; 32] {
    let mut w = [0u8; 32];
    for (i, b) in w.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    w
}

/// `w + m` as 32-byte big-endian words (no overflow for values below m < 2^254).
fn plus(w: &[u8], m: &str) -> [u8; 32] {
    let m = word(m);
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = w[i] as u16 + m[i] as u16 + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    assert_eq!(carry, 0);
    out
}

#[test]
fn the_honest_proof_is_accepted_by_both() {
    let f = fixture();
    println!(
        "proof: {} bytes, {} points, {} scalars; {} instances",
        f.bytes.len(),
        f.sections.points.len(),
        f.sections.scalars.len(),
        f.instances.len()
    );
    assert!(f.rust_accepts(&f.bytes, &f.words()));
    if let Some(ok) = f.evm_accepts(&f.bytes, &f.words()) {
        assert!(ok, "the Solidity verifier rejects the honest proof");
    }
}

/// Each proof scalar written as itself + r: the same field element, another encoding.
#[test]
fn non_canonical_proof_scalars_are_rejected() {
    let f = fixture();
    for at in Fixture::sample(&f.sections.scalars) {
        let mut b = f.bytes.clone();
        let w = plus(&b[at..at + 32], R);
        b[at..at + 32].copy_from_slice(&w);
        f.both_reject(&b, &f.words(), &format!("the scalar at byte {at} + r"));
    }
}

/// A proof point's coordinate written as itself + p.
#[test]
fn non_canonical_point_coordinates_are_rejected() {
    let f = fixture();
    for at in Fixture::sample(&f.sections.points) {
        for (coord, off) in [("x", 0), ("y", 32)] {
            let mut b = f.bytes.clone();
            let w = plus(&b[at + off..at + off + 32], P);
            b[at + off..at + off + 32].copy_from_slice(&w);
            f.both_reject(&b, &f.words(), &format!("the point at byte {at} with {coord} + p"));
        }
    }
}

/// A proof point moved off the curve (y + 1).
#[test]
fn points_not_on_the_curve_are_rejected() {
    let f = fixture();
    for &at in &f.sections.points {
        let mut b = f.bytes.clone();
        let y = u8::wrapping_add(b[at + 63], 1);
        b[at + 63] = y;
        f.both_reject(&b, &f.words(), &format!("the point at byte {at} off the curve"));
    }
}

/// The point at infinity, encoded (0, 0), where a commitment belongs.
#[test]
fn points_at_infinity_are_rejected() {
    let f = fixture();
    for &at in &f.sections.points {
        let mut b = f.bytes.clone();
        b[at..at + 64].fill(0);
        f.both_reject(&b, &f.words(), &format!("the point at infinity at byte {at}"));
    }
}

/// A valid curve point (the generator (1, 2)) in place of a commitment.
#[test]
fn another_curve_point_is_rejected() {
    let f = fixture();
    for at in Fixture::sample(&f.sections.points) {
        let mut b = f.bytes.clone();
        b[at..at + 64].fill(0);
        b[at + 31] = 1;
        b[at + 63] = 2;
        f.both_reject(&b, &f.words(), &format!("the generator at byte {at}"));
    }
}

#[test]
fn truncated_and_extended_proofs_are_rejected() {
    let f = fixture();
    let n = f.bytes.len();
    for cut in [1, 31, 32, 64, n / 2, n] {
        f.both_reject(&f.bytes[..n - cut], &f.words(), &format!("a proof cut by {cut} bytes"));
    }
    for extra in [1, 32, 64] {
        let mut b = f.bytes.clone();
        b.extend(vec![0u8; extra]);
        f.both_reject(&b, &f.words(), &format!("a proof extended by {extra} zero bytes"));
        let mut b = f.bytes.clone();
        b.extend_from_slice(&f.bytes[..extra]);
        f.both_reject(&b, &f.words(), &format!("a proof extended by {extra} of its own bytes"));
    }
}

/// Each instance written as itself + r (the same field element): the Rust
/// verifier refuses the word before verifying, the contract checks `< r`.
#[test]
fn instances_not_below_the_field_modulus_are_rejected() {
    let f = fixture();
    for i in f.instance_sample() {
        let mut w = f.words();
        w[i] = plus(&w[i], R);
        f.both_reject(&f.bytes, &w, &format!("instance {i} + r"));
    }
    let mut w = f.words();
    w[0] = [0xff; 32];
    f.both_reject(&f.bytes, &w, "instance 0 = 2^256 - 1");
}

#[test]
fn too_few_or_too_many_instances_are_rejected() {
    let f = fixture();
    let w = f.words();
    f.both_reject(&f.bytes, &w[..w.len() - 1], "one instance fewer");
    f.both_reject(&f.bytes, &[], "no instances");
    let mut more = w.clone();
    more.push([0u8; 32]);
    f.both_reject(&f.bytes, &more, "an extra zero instance");
    let mut twice = w.clone();
    twice.extend_from_slice(&w);
    f.both_reject(&f.bytes, &twice, "the instances twice");
}

/// Public instances (inputs and every output) changed by one.
#[test]
fn changed_instances_are_rejected() {
    let f = fixture();
    for i in f.instance_sample() {
        let mut inst = f.instances.clone();
        inst[i] += Fr::one();
        let w: Vec<[u8; 32]> = inst.iter().map(fr_be).collect();
        f.both_reject(&f.bytes, &w, &format!("instance {i} + 1"));
    }
}

/// `outputs`/`outputs_quantized` are conveniences beside the proven
/// instances: a `proof.json` whose outputs disagree with its instances is
/// rejected even though the proof itself is valid.
#[test]
fn proof_json_outputs_must_agree_with_instances() {
    let f = fixture();
    let mut p = f.proof.clone();
    p.outputs_quantized[0][0] += 1;
    assert!(f.verifier.verify(&p).is_err(), "edited outputs_quantized accepted");
    let mut p = f.proof.clone();
    p.outputs[0][0] += 1.0;
    assert!(f.verifier.verify(&p).is_err(), "edited outputs accepted");
    let mut p = f.proof.clone();
    p.outputs[0].pop();
    assert!(f.verifier.verify(&p).is_err(), "a shortened outputs list accepted");
    let mut p = f.proof.clone();
    p.instances.push(vec![]);
    assert!(f.verifier.verify(&p).is_err(), "a second instance column accepted");
    let mut p = f.proof.clone();
    p.proof = p.proof.trim_start_matches("0x").to_string() + "0";
    assert!(f.verifier.verify(&p).is_err(), "odd-length hex accepted");
}
