//! Helpers the commands share: progress spinners, timings, memory, where
//! the SRS and solc-js live, reading inputs and calibration, compile options.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use zkinfer::{pipeline, CompileOptions, SrsSource};

use crate::cli::args::CompileArgs;

pub(crate) fn spinner(msg: &str) -> ProgressBar {
    // indicatif draws only on a terminal; piped output stays quiet.
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

pub(crate) fn step<T>(msg: &str, f: impl FnOnce() -> Result<T>) -> Result<(T, Duration)> {
    let pb = spinner(msg);
    let t = Instant::now();
    let r = f();
    pb.finish_and_clear();
    Ok((r?, t.elapsed()))
}

/// The resource caps of this process: the defaults, each overridden by its
/// environment variable (`ZKINFER_MAX_FILE_BYTES`, `ZKINFER_MAX_TENSOR_ELEMENTS`,
/// `ZKINFER_MAX_OP_TERMS`; `_` separators allowed). A set but unreadable
/// value is an error naming it.
pub(crate) fn limits_from_env() -> Result<ir::limits::Limits> {
    fn var(name: &str) -> Result<Option<u64>> {
        match std::env::var(name) {
            Err(_) => Ok(None),
            Ok(v) => v
                .trim()
                .replace('_', "")
                .parse()
                .map(Some)
                .with_context(|| format!("{name}={v:?} is not a whole number")),
        }
    }
    let d = ir::limits::Limits::default();
    let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    Ok(ir::limits::Limits {
        max_file_bytes: var("ZKINFER_MAX_FILE_BYTES")?.unwrap_or(d.max_file_bytes),
        max_tensor_elements: var("ZKINFER_MAX_TENSOR_ELEMENTS")?.map(size).unwrap_or(d.max_tensor_elements),
        max_op_terms: var("ZKINFER_MAX_OP_TERMS")?.map(size).unwrap_or(d.max_op_terms),
    })
}

/// Peak resident memory of this process (Linux), in MiB.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub(crate) fn srs_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ZKINFER_CACHE") {
        return PathBuf::from(d);
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache").join("zkinfer"),
        None => PathBuf::from(".zkinfer-cache"),
    }
}

pub(crate) fn srs_source(srs: Option<PathBuf>) -> SrsSource {
    match srs {
        Some(p) => SrsSource::File(p),
        None => {
            eprintln!("WARNING: no --srs given: using the deterministic DEVELOPMENT SRS. It is INSECURE (anyone can forge proofs); use a ceremony SRS for production.");
            SrsSource::DevCached(srs_cache_dir())
        }
    }
}

/// The project's solc-js driver (`scripts/solc.js`; `ZKINFER_SOLC` overrides).
pub(crate) fn solc_script() -> PathBuf {
    std::env::var_os("ZKINFER_SOLC").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(verifier_gen::evm::SOLC_SCRIPT))
}

pub(crate) fn parse_address(s: &str) -> Result<[u8; 20]> {
    let b = prover::artifact::from_hex(s).filter(|b| b.len() == 20);
    let b = b.with_context(|| format!("--vk-address {s:?} is not a 20-byte 0x-hex address"))?;
    let mut a = [0u8; 20];
    a.copy_from_slice(&b);
    Ok(a)
}

/// Writes Verifier.sol and calldata.hex next to a proof and checks it in the EVM.
pub(crate) fn onchain_artifacts(dir: &Path, proof: &zkinfer::ProofFile, proof_path: &Path) -> Result<Vec<String>> {
    let sol = dir.join("Verifier.sol");
    prover::artifact::write_atomic(&sol, zkinfer::onchain::gen_verifier(dir)?.as_bytes())?;
    let cd = dir.join("calldata.hex");
    let data = zkinfer::onchain::calldata(proof, proof_path, None)?;
    prover::artifact::write_atomic(&cd, prover::artifact::to_hex(&data).as_bytes())?;
    let mut lines = vec![format!("verifier     {} (contract Halo2Verifier), calldata {}", sol.display(), cd.display())];
    match step("verifying in the EVM", || {
        Ok(zkinfer::onchain::verify_evm(dir, proof, proof_path, &solc_script(), false)?)
    }) {
        Ok((e, _)) => lines.push(format!(
            "evm          ok={} gas={} (deployed code {} bytes, deployment gas {})",
            e.ok, e.gas, e.code_size, e.deploy_gas
        )),
        Err(e) => {
            lines.push(format!("evm          not checked: {e:#} (run `bash scripts/npm-ci.sh` to install solc-js)"))
        }
    }
    Ok(lines)
}

pub(crate) fn read_text(p: &Path) -> Result<String> {
    ir::limits::read_text(p, ir::limits::max_file_bytes()).with_context(|| format!("cannot read {}", p.display()))
}

pub(crate) fn read_inputs(p: &Path) -> Result<Vec<Vec<f64>>> {
    compiler::parse_input_json(&read_text(p)?).with_context(|| format!("input file {}", p.display()))
}

/// Calibration samples: `{"calibration_data": [[input 0 floats, ...], ...]}` or one input.json.
pub(crate) fn read_calibration(p: &Path) -> Result<Vec<Vec<Vec<f64>>>> {
    compiler::parse_calibration_json(&read_text(p)?).with_context(|| format!("calibration file {}", p.display()))
}

/// `--input-bounds`: `LO,HI` (every input) or `I:LO,HI` (input I).
pub(crate) fn parse_input_bounds(specs: &[String]) -> Result<Vec<compiler::InputBound>> {
    specs
        .iter()
        .map(|spec| {
            let (input, range) = match spec.split_once(':') {
                Some((i, r)) => (
                    Some(
                        i.trim()
                            .parse::<usize>()
                            .with_context(|| format!("--input-bounds {spec}: input index {i:?}"))?,
                    ),
                    r,
                ),
                None => (None, spec.as_str()),
            };
            let (lo, hi) =
                range.split_once(',').with_context(|| format!("--input-bounds {spec}: expected LO,HI or I:LO,HI"))?;
            let num = |t: &str| {
                t.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .with_context(|| format!("--input-bounds {spec}: {t:?} is not a finite number"))
            };
            let (lo, hi) = (num(lo)?, num(hi)?);
            if lo > hi {
                bail!("--input-bounds {spec}: LO {lo} is above HI {hi}");
            }
            Ok(compiler::InputBound { input, lo, hi })
        })
        .collect()
}

pub(crate) fn compile_options(a: &CompileArgs) -> Result<CompileOptions> {
    let calibration = match &a.calibrate {
        Some(p) => read_calibration(p)?,
        None => vec![],
    };
    Ok(CompileOptions {
        scale_bits: a.scale_bits,
        range_bits: a.range_bits,
        weight_bits: a.weight_bits,
        calibration,
        range_margin: a.range_margin,
        input_bounds: parse_input_bounds(&a.input_bounds)?,
        scales: a.scales.into(),
        input_visibility: a.input_visibility.into(),
        output_visibility: a.output_visibility.into(),
        param_visibility: a.param_visibility.into(),
    })
}

/// On stderr (stdout is for tools): a verifier of a limb-layout circuit costs
/// more gas than the gas layout's would.
pub(crate) fn gas_layout_hint(dir: &Path) {
    if let Ok(m) = pipeline::load(dir) {
        if m.settings.layout == "limbs" {
            eprintln!(
                "note: {} uses the limb layout ({} commitments); `zkinfer compile --optimize gas` makes the verifier cheapest (18 commitments without function tables)",
                dir.display(),
                m.settings.commitments
            );
        }
    }
}
