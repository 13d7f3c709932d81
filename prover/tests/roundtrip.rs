//! Real KZG proofs of a small program: accepted when honest; rejected with any
//! flipped byte, changed instances, truncation, trailing bytes, or another
//! model's key.

use std::sync::Arc;

use circuits::{plan, plan_with, Layout, ModelCircuit, Optimize};
use ir::*;
use prover::{keys, srs, Fr};

fn program(bias: i64) -> Program {
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
    let p = Program {
        format_version: FORMAT_VERSION,
        name: "tiny".into(),
        quant: QuantSettings { scale_bits: s, range_bits: 7 },
        inputs: vec![InputSpec { name: "x".into(), shape: vec![1, 4], bound: None, int_range: None }],
        nodes,
        outputs: vec![OutputSpec { name: "y".into(), value: 2, shape: vec![1, 2], dequant: None }],
        input_visibility: Visibility::Public,
        output_visibility: Visibility::Public,
        params: None,
    };
    p.validate().unwrap();
    p
}

#[test]
fn prove_verify_and_reject_tampering() {
    let p = Arc::new(program(10));
    let rep = plan(&p).unwrap();
    let params = srs::dev_srs(rep.shape.k);
    let k = keys::keygen(&params, p.clone(), &rep.shape).unwrap();
    let trace = eval(&p, &[vec![16, -8, 24, 5]]).unwrap();
    let circuit = ModelCircuit::new(p.clone(), rep.shape.clone(), Arc::new(trace.clone()));
    let (proof, inst) = prover::prove(&params, &k.pk, circuit).unwrap();
    assert_eq!(inst.len(), 4 + 2);
    prover::verify(&params, k.vk(), &inst, &proof).unwrap();

    // Every flipped byte position (a spread of them, every word boundary kind).
    let mut tried = 0;
    for pos in (0..proof.len()).step_by(29) {
        let mut bad = proof.clone();
        bad[pos] ^= 0x01;
        assert!(prover::verify(&params, k.vk(), &inst, &bad).is_err(), "flipped byte {pos} accepted");
        tried += 1;
    }
    assert!(tried >= 20);
    // Changed public output and public input.
    for i in 0..inst.len() {
        let mut wrong = inst.clone();
        wrong[i] += Fr::one();
        assert!(prover::verify(&params, k.vk(), &wrong, &proof).is_err(), "changed instance {i} accepted");
    }
    // Wrong number of instances, truncation, trailing bytes.
    assert!(prover::verify(&params, k.vk(), &inst[..5], &proof).is_err());
    assert!(prover::verify(&params, k.vk(), &inst, &proof[..proof.len() - 1]).is_err());
    let mut longer = proof.clone();
    longer.push(0);
    assert!(prover::verify(&params, k.vk(), &inst, &longer).is_err());

    // Another model's key rejects this proof, and key files are bound to their model.
    let p2 = Arc::new(program(11));
    let rep2 = plan(&p2).unwrap();
    assert_eq!(rep2.shape, rep.shape);
    let k2 = keys::keygen(&params, p2.clone(), &rep2.shape).unwrap();
    assert!(prover::verify(&params, k2.vk(), &inst, &proof).is_err());

    let dir = std::env::temp_dir().join(format!("zkinfer-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d1 = keys::digest(&p, &rep.shape);
    let d2 = keys::digest(&p2, &rep2.shape);
    assert_ne!(d1, d2);
    let vk_path = dir.join("vk.bin");
    prover::artifact::write_atomic(&vk_path, &keys::vk_bytes(k.vk(), &d1)).unwrap();
    let vk = keys::read_vk(&vk_path, &rep.shape, &d1).unwrap();
    prover::verify(&params, &vk, &inst, &proof).unwrap();
    let err = keys::read_vk(&vk_path, &rep.shape, &d2).unwrap_err();
    assert!(err.to_string().contains("different model"), "{err}");
    let pk_path = dir.join("pk.bin");
    let pk_bytes = keys::pk_bytes(&k.pk, &d1);
    // The streamed writer and reader: the same bytes as the framed encoding,
    // and the key read back proves what the original does.
    let len = keys::write_pk(&pk_path, &k.pk, &d1).unwrap();
    assert_eq!(std::fs::read(&pk_path).unwrap(), pk_bytes);
    assert_eq!(len as usize, pk_bytes.len());
    let pk = keys::read_pk(&pk_path, &rep.shape, &d1).unwrap();
    let again = ModelCircuit::new(p.clone(), rep.shape.clone(), Arc::new(trace.clone()));
    let (proof2, inst2) = prover::prove(&params, &pk, again).unwrap();
    assert_eq!(inst2, inst);
    prover::verify(&params, &vk, &inst, &proof2).unwrap();
    let err = keys::read_pk(&pk_path, &rep2.shape, &d2).unwrap_err();
    assert!(err.to_string().contains("different model"), "{err}");
    // A body edited without its checksum, and one edited with it (the
    // polynomial walk names a length past the file).
    let mut edited = pk_bytes.clone();
    let last = edited.len() - 1;
    edited[last] ^= 1;
    prover::artifact::write_atomic(&pk_path, &edited).unwrap();
    let err = keys::read_pk(&pk_path, &rep.shape, &d1).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    let mut body = pk_bytes[72..].to_vec();
    let vk_len = keys::vk_bytes(k.vk(), &d1).len() - 72;
    body[vk_len..vk_len + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    let mut framed = pk_bytes[..40].to_vec();
    framed.extend_from_slice(&<sha3::Keccak256 as sha3::Digest>::digest(&body));
    framed.extend_from_slice(&body);
    prover::artifact::write_atomic(&pk_path, &framed).unwrap();
    let err = keys::read_pk(&pk_path, &rep.shape, &d1).unwrap_err();
    assert!(err.to_string().contains("l0 declares"), "{err}");
    prover::artifact::write_atomic(&pk_path, &pk_bytes[..pk_bytes.len() / 2]).unwrap();
    let err = keys::read_pk(&pk_path, &rep.shape, &d1).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");

    // SRS files: write, read back downsized, reject truncation.
    let srs_path = dir.join("k.srs");
    srs::write(&srs_path, &params).unwrap();
    assert!(srs::read(&srs_path, rep.shape.k).is_ok());
    let bytes = std::fs::read(&srs_path).unwrap();
    std::fs::write(&srs_path, &bytes[..bytes.len() - 10]).unwrap();
    assert!(srs::read(&srs_path, rep.shape.k).unwrap_err().to_string().contains("truncated"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The verifying key of a fixed program is pinned: any change to the circuit
/// (gates, lookups, column layout, planner) changes it. Update the constant
/// only on purpose, with `ZKINFER_BLESS=1 cargo test -p prover pinned` and a
/// note in the commit of what changed in the circuit.
/// Both layouts are pinned: the limb layout and the gas layout (`chips::bits`).
#[test]
fn pinned_verifying_key() {
    const PINNED: [(Layout, &str); 2] = [
        (Layout::Limbs, "0x2b27152c72803541f502f711e6233009058e0703a12f3f94216d315d38fc90c1"),
        (Layout::Bits, "0x0e366207825ffdd6c66198e126eb2f68a8716c12462e7917cdb9a867e1449892"),
    ];
    let p = Arc::new(program(10));
    for (layout, pinned) in PINNED {
        let rep = plan_with(&p, Optimize::Balanced, Some(layout)).unwrap();
        let params = srs::dev_srs(rep.shape.k);
        let k = keys::keygen(&params, p.clone(), &rep.shape).unwrap();
        let repr = prover::artifact::fr_to_hex(&k.vk().transcript_repr());
        if std::env::var_os("ZKINFER_BLESS").is_some() {
            println!("{layout:?} vk transcript repr: {repr}");
            continue;
        }
        assert_eq!(repr, pinned, "the circuit changed ({layout:?}, shape {:?}); bless it on purpose", rep.shape);
    }
}

/// The CUDA prover's proofs verify with the CPU verifier (and a tampered one
/// does not). Only in builds with the `cuda` feature, on a machine with a GPU;
/// never run so far (docs/NOTES.md, "CUDA backend").
#[cfg(feature = "cuda")]
#[test]
fn cuda_proof_verifies_on_cpu() {
    let p = Arc::new(program(10));
    let rep = plan(&p).unwrap();
    let params = srs::dev_srs(rep.shape.k);
    let k = keys::keygen(&params, p.clone(), &rep.shape).unwrap();
    let trace = eval(&p, &[vec![16, -8, 24, 5]]).unwrap();
    let circuit = ModelCircuit::new(p.clone(), rep.shape.clone(), Arc::new(trace));
    let (proof, inst) = prover::prove_with(prover::Backend::Cuda, &params, &k.pk, circuit).unwrap();
    prover::verify(&params, k.vk(), &inst, &proof).unwrap();
    let mut bad = proof.clone();
    bad[40] ^= 1;
    assert!(prover::verify(&params, k.vk(), &inst, &bad).is_err());
}
