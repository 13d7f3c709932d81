//! The committed-model loop, end to end (issue 12; `zkinfer fraud-demo`,
//! `examples/fraud/`): one architecture compiled once with committed
//! parameters (`hashed`: a Poseidon instance, or `polycommit`: the weight
//! columns' commitments in the proof), one key, one deployed verifier and a `ModelRegistry`; weight
//! set v1 approved and used; the model retrained, v2 approved and v1
//! revoked; v2 proven with the same keys and verifier; a v1 proof then
//! rejected. Every on-chain step runs in the in-process EVM and reports its
//! gas.

use std::path::{Path, PathBuf};

use compiler::CompileOptions;
use ir::Visibility;

use crate::artifacts::ProofFile;
use crate::error::Error;
use crate::pipeline::{self, SrsSource};
use crate::registry::{fr_word, Registry, RegistryRevert, Word};

/// The files of a retrain walkthrough.
pub struct RetrainFiles {
    pub v1: PathBuf,
    pub v2: PathBuf,
    pub calibration: PathBuf,
    /// An input v1 is proven on (e.g. a transaction v1 flags).
    pub input_v1: PathBuf,
    /// An input v2 is proven on (e.g. a new-pattern fraud only v2 flags).
    pub input_v2: PathBuf,
}

impl RetrainFiles {
    /// `examples/fraud/` under `root` (the repository).
    pub fn fraud_example(root: &Path) -> RetrainFiles {
        let d = root.join("examples/fraud");
        RetrainFiles {
            v1: d.join("model_v1.onnx"),
            v2: d.join("model_v2.onnx"),
            calibration: d.join("calibration.json"),
            input_v1: d.join("flagged_v1.json"),
            input_v2: d.join("flagged_v2.json"),
        }
    }
}

/// One step of the walkthrough: what it did, its gas (on-chain steps) and
/// whether it went as the story says it must.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Step {
    pub step: String,
    pub gas: Option<u64>,
    pub ok: bool,
    pub detail: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Retrain {
    pub steps: Vec<Step>,
    pub commitment_v1: String,
    pub commitment_v2: String,
    pub score_v1: f64,
    pub score_v2: f64,
    /// Whether every step went as expected.
    pub ok: bool,
}

fn read_text(p: &Path) -> Result<String, Error> {
    ir::limits::read_text(p, ir::limits::max_file_bytes())
        .map_err(|e| Error::File { path: p.into(), reason: e.to_string() })
}

fn words(proof: &ProofFile, path: &Path) -> Result<(Vec<u8>, Vec<Word>), Error> {
    let (bytes, instances) = pipeline::decode_proof(proof, path)?;
    Ok((bytes, instances.iter().map(fr_word).collect()))
}

/// Runs the walkthrough in `out` (artifacts, proofs, Verifier.sol), with the
/// development SRS cached in `srs_cache`; `solc_script` is the project's
/// `scripts/solc.js`. `log` receives each step as it completes. Hashed
/// parameters ([`walkthrough_with`] for polycommit).
pub fn walkthrough(
    files: &RetrainFiles,
    out: &Path,
    srs: &SrsSource,
    solc_script: &Path,
    log: impl FnMut(&Step),
) -> Result<Retrain, Error> {
    walkthrough_with(files, out, srs, solc_script, Visibility::Hashed, log)
}

/// [`walkthrough`] with the parameters' visibility `vis`: `Hashed`
/// (`ModelRegistry` reads the commitment instance) or `Polycommit`
/// (`PolycommitModelRegistry` hashes the weight columns' points in the proof).
pub fn walkthrough_with(
    files: &RetrainFiles,
    out: &Path,
    srs: &SrsSource,
    solc_script: &Path,
    vis: Visibility,
    mut log: impl FnMut(&Step),
) -> Result<Retrain, Error> {
    if !matches!(vis, Visibility::Hashed | Visibility::Polycommit) {
        return Err(Error::File {
            path: out.into(),
            reason: format!("the walkthrough needs committed parameters (hashed or polycommit), not {vis:?}"),
        });
    }
    let polycommit = vis == Visibility::Polycommit;
    use verifier_gen::evm::{Evm, Solc};
    let mut steps: Vec<Step> = vec![];
    let mut push = |s: Step, steps: &mut Vec<Step>| {
        log(&s);
        steps.push(s);
    };
    let opts = CompileOptions {
        calibration: compiler::parse_calibration_json(&read_text(&files.calibration)?)?,
        param_visibility: vis,
        ..CompileOptions::default()
    };
    let m = pipeline::compile(&files.v1, &opts, out)?;
    // Where the registry reads the commitment: an instance (hashed) or the
    // weight columns' points in the proof (polycommit).
    let points = crate::onchain::committed_points_range(&m.shape);
    let params_index = points
        .is_none()
        .then(|| m.program.commitment_index("params").expect("hashed params have a commitment instance"));
    let (name, where_) = match &points {
        Some(r) => ("polycommit", format!("weight columns' points at proof bytes {}..{}", r.start, r.end)),
        None => ("hashed", format!("commitment at instance {}", params_index.unwrap_or_default())),
    };
    push(
        Step {
            step: format!("compile v1 (--param-visibility {name})"),
            gas: None,
            ok: true,
            detail: format!("k={} rows={} params={} ({where_})", m.settings.k, m.settings.rows, m.settings.num_params),
        },
        &mut steps,
    );
    let su = pipeline::setup(out, srs)?;
    push(
        Step {
            step: "setup: one key for the architecture".into(),
            gas: None,
            ok: true,
            detail: format!("pk {} bytes, vk {} bytes", su.pk_bytes, su.vk_bytes),
        },
        &mut steps,
    );
    let c1 = pipeline::commitments(out, Some(&files.v1), true, None)?["params"].clone();
    let c2 = pipeline::commitments(out, Some(&files.v2), true, None)?["params"].clone();
    let word = |hex: &str| -> Result<Word, Error> {
        let bad = || Error::File { path: out.into(), reason: format!("bad commitment {hex}") };
        if polycommit {
            let b = prover::artifact::from_hex(hex).ok_or_else(bad)?;
            return b.try_into().map_err(|_| bad());
        }
        let f = prover::artifact::fr_from_hex(hex).ok_or_else(bad)?;
        Ok(fr_word(&f))
    };
    let (w1, w2) = (word(&c1)?, word(&c2)?);

    let solc = Solc::new(solc_script);
    let mut evm = Evm::new();
    let owner = [0x0a; 20];
    let verifier_src = crate::onchain::gen_verifier(out)?;
    std::fs::write(out.join("Verifier.sol"), &verifier_src)
        .map_err(|e| Error::File { path: out.join("Verifier.sol"), reason: e.to_string() })?;
    let code = solc
        .compile(&verifier_src)?
        .into_iter()
        .find(|c| c.name == verifier_gen::VERIFIER_NAME)
        .ok_or_else(|| verifier_gen::GenError::Solc { reason: "no verifier contract in solc's output".into() })?;
    let v = evm.deploy(&code.bytecode)?;
    push(
        Step {
            step: "deploy the architecture's verifier".into(),
            gas: Some(v.gas),
            ok: true,
            detail: format!("{} bytes of code", v.code_size),
        },
        &mut steps,
    );
    let (reg, gas) = match points {
        Some(r) => Registry::deploy_polycommit(&mut evm, &solc, v.address, r, owner)?,
        None => Registry::deploy(&mut evm, &solc, v.address, params_index.unwrap_or_default(), owner)?,
    };
    push(
        Step {
            step: format!("deploy {}", if polycommit { "PolycommitModelRegistry" } else { "ModelRegistry" }),
            gas: Some(gas),
            ok: true,
            detail: format!("owner 0x{}", hex(&owner)),
        },
        &mut steps,
    );
    let r = reg.approve(&mut evm, owner, w1, 1, "ipfs://fraud-model-card/v1")?;
    push(
        Step { step: "approve v1".into(), gas: Some(r.gas), ok: r.success, detail: format!("params {c1}") },
        &mut steps,
    );

    let prove = |weights: &Path, input: &Path, name: &str| -> Result<(ProofFile, PathBuf), Error> {
        let inputs = compiler::parse_input_json(&read_text(input)?)?;
        let po = pipeline::prove_weights(out, &inputs, prover::Backend::Cpu, Some(weights))?;
        let path = out.join(name);
        let json = serde_json::to_vec_pretty(&po.proof).expect("proof serializes");
        prover::artifact::write_atomic(&path, &json)?;
        pipeline::verify(out, &po.proof, &path)?;
        Ok((po.proof, path))
    };
    let (p1, p1_path) = prove(&files.v1, &files.input_v1, "proof_v1.json")?;
    let score_v1 = p1.outputs[0][0];
    push(
        Step {
            step: "prove a flagged transaction with v1".into(),
            gas: None,
            ok: p1.commitments.get("params") == Some(&c1),
            detail: format!("score {score_v1:.4}"),
        },
        &mut steps,
    );
    let (b1, i1) = words(&p1, &p1_path)?;
    let s = reg.submit(&mut evm, [0x0b; 20], &b1, &i1)?;
    push(
        Step {
            step: "submit v1's proof".into(),
            gas: Some(s.call.gas),
            ok: s.accepted.as_ref().is_some_and(|e| e.commitment == w1 && e.version == 1),
            detail: "accepted: InferenceAccepted(v1)".into(),
        },
        &mut steps,
    );

    // Fraud patterns shift: retrain, approve v2, revoke v1.
    let r = reg.approve(&mut evm, owner, w2, 2, "ipfs://fraud-model-card/v2")?;
    push(
        Step { step: "approve v2 (retrained)".into(), gas: Some(r.gas), ok: r.success, detail: format!("params {c2}") },
        &mut steps,
    );
    let r = reg.revoke(&mut evm, owner, w1)?;
    push(Step { step: "revoke v1".into(), gas: Some(r.gas), ok: r.success, detail: String::new() }, &mut steps);
    let (p2, p2_path) = prove(&files.v2, &files.input_v2, "proof_v2.json")?;
    let score_v2 = p2.outputs[0][0];
    push(
        Step {
            step: "prove the new pattern with v2 (same keys, same verifier)".into(),
            gas: None,
            ok: p2.commitments.get("params") == Some(&c2),
            detail: format!("score {score_v2:.4}"),
        },
        &mut steps,
    );
    let (b2, i2) = words(&p2, &p2_path)?;
    let s = reg.submit(&mut evm, [0x0b; 20], &b2, &i2)?;
    push(
        Step {
            step: "submit v2's proof".into(),
            gas: Some(s.call.gas),
            ok: s.accepted.as_ref().is_some_and(|e| e.commitment == w2 && e.version == 2),
            detail: "accepted: InferenceAccepted(v2)".into(),
        },
        &mut steps,
    );
    let s = reg.submit(&mut evm, [0x0b; 20], &b1, &i1)?;
    push(
        Step {
            step: "submit v1's proof again".into(),
            gas: Some(s.call.gas),
            ok: s.accepted.is_none() && matches!(s.revert(), Some(RegistryRevert::Revoked(_))),
            detail: match s.revert() {
                Some(RegistryRevert::Revoked(w)) => format!("rejected: Revoked(0x{})", hex(&w)),
                other => format!("rejected: {other:?}"),
            },
        },
        &mut steps,
    );
    // A valid v2 proof whose output instance is changed (the score lowered).
    let mut forged = i2.clone();
    // The last public output: just before the params instance, or last.
    let out_at = params_index.unwrap_or(i2.len()) - 1;
    forged[out_at][31] ^= 1;
    let s = reg.submit(&mut evm, [0x0b; 20], &b2, &forged)?;
    push(
        Step {
            step: "submit v2's proof with a changed score".into(),
            gas: Some(s.call.gas),
            ok: s.accepted.is_none() && matches!(s.revert(), Some(RegistryRevert::ProofRejected)),
            detail: format!("rejected: {:?}", s.revert()),
        },
        &mut steps,
    );
    let ok = steps.iter().all(|s| s.ok);
    Ok(Retrain { steps, commitment_v1: c1, commitment_v2: c2, score_v1, score_v2, ok })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
