//! The fuzz targets. Each is a plain `fn(&[u8])` (libFuzzer's signature,
//! so `fuzz_target!(|data: &[u8]| zkinfer_fuzz::targets::onnx(data))` plugs
//! it into cargo-fuzz unchanged) over a `check_*` function that returns
//! the error the input was refused with, which the runner tallies.
//!
//! A property violation other than a panic (a mutated proof that verifies)
//! is reported by panicking with [`ACCEPTED`], as libFuzzer expects.

use std::path::{Path, PathBuf};

use compiler::CompileOptions;
use prover::{artifact, keys, Fr};
use zkinfer::ProofFile;

use crate::fixture;
use crate::mutate::InputKind;

/// The panic message prefix of a wrongly accepted mutant.
pub const ACCEPTED: &str = "ACCEPTED MUTANT";

/// `Ok`: the input was accepted; `Err`: the error it was refused with.
pub type Outcome = Result<(), String>;

pub struct Target {
    pub name: &'static str,
    pub kind: InputKind,
    /// What the target feeds the input to and what it asserts.
    pub doc: &'static str,
    pub check: fn(&[u8]) -> Outcome,
    /// The libFuzzer-style entry point (`check`, result dropped).
    pub entry: fn(&[u8]),
    /// Seeds made at startup from the fixture, added to `corpus/<name>/`.
    pub generated: fn() -> Result<Vec<Vec<u8>>, String>,
}

macro_rules! entry {
    ($name:ident, $check:ident) => {
        #[doc = concat!("libFuzzer-style entry of [`", stringify!($check), "`].")]
        pub fn $name(data: &[u8]) {
            let _ = $check(data);
        }
    };
}

entry!(onnx, check_onnx);
entry!(input_json, check_input_json);
entry!(proof_json, check_proof_json);
entry!(program, check_program);
entry!(vk, check_vk);
entry!(key_file, check_key_file);
entry!(pk, check_pk);
entry!(proof_bytes, check_proof_bytes);
entry!(instances, check_instances);

fn none() -> Result<Vec<Vec<u8>>, String> {
    Ok(vec![])
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "onnx",
        kind: InputKind::Onnx,
        doc: "ONNX bytes -> compiler::inspect_bytes and compiler::compile_bytes (default options), then \
              circuits::plan of the program: no panic, no hang",
        check: check_onnx,
        entry: onnx,
        generated: || Ok(vec![zkinfer::EXAMPLE_MODEL.to_vec()]),
    },
    Target {
        name: "input_json",
        kind: InputKind::Json,
        doc: "text -> compiler::parse_input_json / parse_expected_json / parse_calibration_json, then \
              ir::eval::quantize_inputs and ir::eval on the example program",
        check: check_input_json,
        entry: input_json,
        generated: none,
    },
    Target {
        name: "proof_json",
        kind: InputKind::Json,
        doc: "text -> serde_json ProofFile -> zkinfer::Verifier::verify of the example model; an accepted \
              file must carry the honest proof bytes, instances and outputs",
        check: check_proof_json,
        entry: proof_json,
        generated: || Ok(vec![fixture::get()?.proof_json.clone()]),
    },
    Target {
        name: "program",
        kind: InputKind::Binary,
        doc: "bytes -> ir::Program::from_bytes, then circuits::plan, shape check, prover::keys::digest and \
              ir::eval on zero inputs",
        check: check_program,
        entry: program,
        generated: || Ok(vec![fixture::example_program()?.to_bytes()]),
    },
    Target {
        name: "vk",
        kind: InputKind::Binary,
        doc: "verifying-key body, framed with a valid header and checksum -> prover::keys::read_vk (from a temp \
              file), then prover::verify of the honest proof with it",
        check: check_vk,
        entry: vk,
        generated: || Ok(vec![fixture::key_body(&fixture::get()?.vk_file).to_vec()]),
    },
    Target {
        name: "key_file",
        kind: InputKind::Binary,
        doc: "a whole vk.bin (header included) -> prover::keys::read_vk: header, digest and checksum checks",
        check: check_key_file,
        entry: key_file,
        generated: || Ok(vec![fixture::get()?.vk_file.clone()]),
    },
    Target {
        name: "pk",
        kind: InputKind::Binary,
        doc: "proving-key body, framed with a valid header and checksum -> prover::keys::read_pk (from a temp \
              file)",
        check: check_pk,
        entry: pk,
        generated: || Ok(vec![fixture::key_body(&fixture::get()?.pk_file).to_vec()]),
    },
    Target {
        name: "proof_bytes",
        kind: InputKind::Binary,
        doc: "proof bytes in the honest proof file -> zkinfer::Verifier::verify; accepted only if the bytes \
              are the honest ones",
        check: check_proof_bytes,
        entry: proof_bytes,
        generated: || Ok(vec![fixture::get()?.proof_bytes.clone()]),
    },
    Target {
        name: "instances",
        kind: InputKind::Binary,
        doc: "public instances (32-byte big-endian words) with the honest proof -> prover::verify; accepted \
              only if they are the honest ones",
        check: check_instances,
        entry: instances,
        generated: || Ok(vec![fixture::get()?.instances.iter().flat_map(fr_be).collect()]),
    },
];

pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub fn check_onnx(data: &[u8]) -> Outcome {
    let inspected = compiler::inspect_bytes(data).map(|_| ());
    let program = compiler::compile_bytes(data, "fuzz", &CompileOptions::default()).map_err(err)?;
    inspected.map_err(|e| format!("compiled, but inspect failed: {e}"))?;
    circuits::plan(&program).map_err(err)?;
    Ok(())
}

pub fn check_input_json(data: &[u8]) -> Outcome {
    let text = std::str::from_utf8(data).map_err(|e| format!("not UTF-8: {e}"))?;
    let _ = compiler::parse_expected_json(text);
    let _ = compiler::parse_calibration_json(text);
    let inputs = compiler::parse_input_json(text).map_err(err)?;
    let program = fixture::example_program()?;
    let q = ir::eval::quantize_inputs(program, &inputs).map_err(err)?;
    ir::eval(program, &q).map_err(err)?;
    Ok(())
}

/// The proof bytes of the committed proof_json seeds (honest proofs of the
/// fixture's statement made by earlier fixtures).
fn seed_proofs() -> &'static Vec<Vec<u8>> {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join("proof_json");
        let Ok(entries) = std::fs::read_dir(&dir) else { return vec![] };
        entries
            .flatten()
            .filter_map(|e| {
                let pf: ProofFile = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
                zkinfer::pipeline::decode_proof(&pf, &e.path()).ok().map(|(b, _)| b)
            })
            .collect()
    })
}

pub fn check_proof_json(data: &[u8]) -> Outcome {
    let pf: ProofFile = serde_json::from_slice(data).map_err(|e| format!("not a proof file: {e}"))?;
    let f = fixture::get()?;
    f.verifier.verify(&pf).map_err(err)?;
    let (bytes, instances) =
        zkinfer::pipeline::decode_proof(&pf, Path::new("<fuzz>")).expect("a verified proof file decodes");
    if instances != f.instances || pf.outputs_quantized != f.proof.outputs_quantized {
        panic!("{ACCEPTED}: a proof file with other instances or outputs verified");
    }
    // Proving is randomized: the committed seed (fuzz/corpus/proof_json) is
    // another honest proof of the same statement, made by an earlier
    // fixture. Any other proof bytes that verify are a malleability defect.
    if bytes != f.proof_bytes && !seed_proofs().contains(&bytes) {
        panic!("{ACCEPTED}: a proof file with other proof bytes verified");
    }
    // The descriptive fields are checked by `verify` (VerifyFailure::FieldDisagrees).
    let h = &f.proof;
    if pf.k != h.k
        || pf.scale_bits != h.scale_bits
        || pf.output_shapes != h.output_shapes
        || pf.input_visibility != h.input_visibility
        || pf.output_visibility != h.output_visibility
    {
        panic!("{ACCEPTED}: a proof file with an edited k, scale_bits, output_shapes or visibility verified");
    }
    // Accepted with the honest claims; say which encodings differ (floats
    // within verify's tolerance, hex letter case).
    let edited = [
        ("outputs", pf.outputs != h.outputs),
        ("digest", pf.digest != h.digest),
        ("proof (hex text)", pf.proof != h.proof),
        ("instances (hex text)", pf.instances != h.instances),
    ];
    match edited.iter().find(|(_, d)| *d) {
        Some((field, _)) => Err(format!("accepted with `{field}` spelled differently (same values)")),
        None => Ok(()),
    }
}

pub fn check_program(data: &[u8]) -> Outcome {
    let p = ir::Program::from_bytes(data).map_err(err)?;
    let report = circuits::plan(&p).map_err(err)?;
    report.shape.check(&p).map_err(err)?;
    let _ = keys::digest(&p, &report.shape);
    let _ = p.architecture();
    let mut inputs = vec![];
    for i in &p.inputs {
        let n = i.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).filter(|&n| n <= 1 << 22);
        inputs.push(vec![0.0; n.ok_or("skipped: input too large to evaluate")?]);
    }
    let q = ir::eval::quantize_inputs(&p, &inputs).map_err(err)?;
    let trace = ir::eval(&p, &q).map_err(err)?;
    let _ = trace.outputs(&p);
    Ok(())
}

/// A per-process, per-thread scratch file for the key readers.
fn scratch(what: &str) -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    std::env::temp_dir().join(format!("zkinfer-fuzz-{}-{thread}.{what}", std::process::id()))
}

fn with_file<T>(what: &str, bytes: &[u8], read: impl FnOnce(&Path) -> T) -> Result<T, String> {
    let path = scratch(what);
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write the scratch file: {e}"))?;
    let out = read(&path);
    let _ = std::fs::remove_file(&path);
    Ok(out)
}

pub fn check_vk(data: &[u8]) -> Outcome {
    let f = fixture::get()?;
    let file = fixture::frame_like(&f.vk_file, data);
    let vk = with_file("vk", &file, |p| keys::read_vk(p, &f.model.shape, &f.model.digest))?.map_err(err)?;
    prover::verify(&f.params, &vk, &f.instances, &f.proof_bytes).map_err(err)?;
    if data != fixture::key_body(&f.vk_file) {
        return Err("accepted: a mutated vk still verifies the honest proof".into());
    }
    Ok(())
}

pub fn check_key_file(data: &[u8]) -> Outcome {
    let f = fixture::get()?;
    with_file("vkfile", data, |p| keys::read_vk(p, &f.model.shape, &f.model.digest))?.map_err(err)?;
    Ok(())
}

pub fn check_pk(data: &[u8]) -> Outcome {
    let f = fixture::get()?;
    let file = fixture::frame_like(&f.pk_file, data);
    with_file("pk", &file, |p| keys::read_pk(p, &f.model.shape, &f.model.digest))?.map_err(err)?;
    Ok(())
}

pub fn check_proof_bytes(data: &[u8]) -> Outcome {
    let f = fixture::get()?;
    let mut pf = f.proof.clone();
    pf.proof = artifact::to_hex(data);
    f.verifier.verify(&pf).map_err(err)?;
    if data != f.proof_bytes {
        panic!("{ACCEPTED}: mutated proof bytes verified");
    }
    Ok(())
}

fn fr_be(x: &Fr) -> Vec<u8> {
    artifact::from_hex(&artifact::fr_to_hex(x)).expect("fr_to_hex is hex")
}

pub fn check_instances(data: &[u8]) -> Outcome {
    let f = fixture::get()?;
    let instances = data
        .chunks(32)
        .map(|w| artifact::fr_from_hex(&artifact::to_hex(w)))
        .collect::<Option<Vec<Fr>>>()
        .ok_or("an instance is not a 32-byte word below the modulus")?;
    prover::verify(&f.params, &f.vk, &instances, &f.proof_bytes).map_err(err)?;
    if instances != f.instances {
        panic!("{ACCEPTED}: the honest proof verified against other instances");
    }
    Ok(())
}
