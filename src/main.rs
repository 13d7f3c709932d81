//! The `zkinfer` command line. The only place that reads environment
//! variables, terminals and default paths.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use zkinfer::{pipeline, Backend, CompileOptions, SrsSource, Visibility};

#[derive(Parser)]
#[command(name = "zkinfer", version, about = "Zero-knowledge proofs of ONNX model inference (Halo2, KZG on BN254)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Vis {
    Public,
    Private,
}

impl From<Vis> for Visibility {
    fn from(v: Vis) -> Self {
        match v {
            Vis::Public => Visibility::Public,
            Vis::Private => Visibility::Private,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Scales {
    Auto,
    Global,
    PerTensor,
}

impl From<Scales> for compiler::ScaleMode {
    fn from(v: Scales) -> Self {
        match v {
            Scales::Auto => compiler::ScaleMode::Auto,
            Scales::Global => compiler::ScaleMode::Global,
            Scales::PerTensor => compiler::ScaleMode::PerTensor,
        }
    }
}

/// Which prover runs `create_proof`.
#[derive(Clone, Copy, ValueEnum)]
enum ProverBackend {
    /// halo2-axiom on the CPU (all cores).
    Cpu,
    /// halo2-axiom-gpu's CUDA prover: needs a build with `--features cuda` (untested).
    Cuda,
}

impl From<ProverBackend> for Backend {
    fn from(b: ProverBackend) -> Self {
        match b {
            ProverBackend::Cpu => Backend::Cpu,
            ProverBackend::Cuda => Backend::Cuda,
        }
    }
}

#[derive(clap::Args, Clone)]
struct CompileArgs {
    /// Sample inputs to calibrate ranges on: an input.json ({"input_data": ...})
    /// or {"calibration_data": [[input 0 floats, ...], ...]} (one entry per sample).
    #[arg(long, value_name = "INPUT.json")]
    calibrate: Option<PathBuf>,
    /// Fixed-point fractional bits of activations and weights.
    #[arg(long, value_name = "N")]
    scale_bits: Option<u32>,
    /// Activation range: |values| < 2^N at the fixed-point scale (overrides calibration).
    #[arg(long, value_name = "N")]
    range_bits: Option<u32>,
    /// Significant bits of each layer's quantized weights (default 16).
    #[arg(long, value_name = "N")]
    weight_bits: Option<u32>,
    /// Headroom on calibrated ranges: every value may reach M times its
    /// calibrated magnitude (default 2; 1 = the samples' extremes exactly).
    #[arg(long, value_name = "M")]
    range_margin: Option<f64>,
    /// Declared bounds of the model inputs, `LO,HI` for all of them or
    /// `I:LO,HI` for input I (repeatable): ranges are derived by sound interval
    /// propagation, so every input inside the bounds proves.
    #[arg(long, value_name = "LO,HI", allow_hyphen_values = true)]
    input_bounds: Vec<String>,
    /// Fixed-point scales of activations: `auto` (one global scale where it
    /// meets the accuracy target, else per-tensor scales where they are more
    /// accurate), `global`, or `per-tensor` (each value at the finest scale
    /// its calibrated range allows).
    #[arg(long, value_enum, default_value = "auto")]
    scales: Scales,
    #[arg(long, value_enum, default_value = "private")]
    input_visibility: Vis,
    #[arg(long, value_enum, default_value = "public")]
    output_visibility: Vis,
    /// What the circuit layout minimizes: `gas` (fewest commitments: the
    /// cheapest on-chain verification, slower proofs), `prove` (fastest
    /// proof), or `balanced` between them.
    #[arg(long, value_enum, default_value = "balanced")]
    optimize: Goal,
}

#[derive(Clone, Copy, ValueEnum)]
enum Goal {
    Balanced,
    Gas,
    Prove,
}

impl From<Goal> for circuits::Optimize {
    fn from(g: Goal) -> Self {
        match g {
            Goal::Balanced => circuits::Optimize::Balanced,
            Goal::Gas => circuits::Optimize::Gas,
            Goal::Prove => circuits::Optimize::Prove,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile an ONNX model into DIR (program.bin, settings.json).
    Compile {
        model: PathBuf,
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        args: CompileArgs,
    },
    /// Generate proving and verifying keys into DIR.
    Setup {
        dir: PathBuf,
        /// A halo2 KZG params file (downsized when larger than needed). Without it,
        /// an insecure deterministic development SRS is used.
        #[arg(long, value_name = "FILE")]
        srs: Option<PathBuf>,
    },
    /// Write a development KZG SRS (insecure: for testing only).
    Srs {
        #[arg(long)]
        k: u32,
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: PathBuf,
    },
    /// Prove the model in DIR on an input.
    Prove {
        dir: PathBuf,
        #[arg(long, value_name = "INPUT.json")]
        input: PathBuf,
        #[arg(short = 'o', long = "out", value_name = "PROOF.json")]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: ProverBackend,
    },
    /// Verify a proof against the model in DIR.
    Verify { dir: PathBuf, proof: PathBuf },
    /// compile, setup, prove and verify in one go, with a summary.
    Run {
        model: PathBuf,
        #[arg(long, value_name = "INPUT.json")]
        input: PathBuf,
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: Option<PathBuf>,
        /// Reference outputs ({"output_data": [[...]]}) to report the error against.
        #[arg(long, value_name = "EXPECTED.json")]
        expected: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        srs: Option<PathBuf>,
        /// Print the summary as one JSON object instead of lines.
        #[arg(long)]
        json: bool,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: ProverBackend,
        #[command(flatten)]
        args: CompileArgs,
    },
    /// List a model's ops and shapes, and which are supported.
    Inspect {
        model: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a Solidity verifier for the model in DIR (needs `setup`).
    GenVerifier {
        dir: PathBuf,
        #[arg(short = 'o', long = "out", value_name = "Verifier.sol")]
        out: PathBuf,
        /// Write a reusable verifier to -o and this model's verifying-key contract here.
        #[arg(long, value_name = "VK.sol")]
        separate_vk: Option<PathBuf>,
    },
    /// ABI-encode the `verifyProof` call of a proof (hex with 0x).
    Calldata {
        proof: PathBuf,
        #[arg(short = 'o', long = "out", value_name = "CALLDATA.hex")]
        out: PathBuf,
        /// Encode for the reusable verifier: the deployed VK contract's address.
        #[arg(long, value_name = "0xADDRESS")]
        vk_address: Option<String>,
    },
    /// Compile, deploy and call the model's verifier in an in-process EVM.
    VerifyEvm {
        dir: PathBuf,
        proof: PathBuf,
        /// Use the reusable verifier with a separate verifying-key contract.
        #[arg(long)]
        separate: bool,
        /// Print {"ok", "gas", "deploy_gas", "code_size", "vk_code_size"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compile any Solidity contract, deploy it in revm and call it with
    /// calldata (to compare verifiers in the same EVM).
    EvmCall {
        #[arg(long, value_name = "FILE.sol")]
        sol: PathBuf,
        #[arg(long, value_name = "NAME")]
        contract: String,
        /// Hex calldata (0x-prefixed), as `zkinfer calldata` writes it.
        #[arg(long, value_name = "CALLDATA.hex")]
        calldata: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Compile, witness and MockProver every model folder (model.onnx, input.json,
    /// expected.json) under CORPUS_DIR; write a Markdown coverage report.
    Coverage {
        corpus: PathBuf,
        #[arg(short = 'o', long = "out", value_name = "REPORT.md")]
        out: PathBuf,
        /// Also write the results as a JSON list of objects.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Largest circuit size (k) checked with MockProver; larger models are reported as errors.
        #[arg(long, value_name = "K", default_value_t = zkinfer::coverage::DEFAULT_MAX_K)]
        max_k: u32,
        /// onnxruntime's tensors for the quantized models (agreement figures in the report);
        /// default tests/fixtures/quantized_ort.json when it exists.
        #[arg(long, value_name = "FILE")]
        ort_reference: Option<PathBuf>,
        /// Another folder of models checked as one family, `NAME=DIR`
        /// (repeatable), e.g. `real-exporters=tests/fixtures/real`.
        #[arg(long, value_name = "NAME=DIR")]
        family: Vec<String>,
    },
    /// Run the whole path on the embedded example model (an MNIST-sized MLP).
    Demo {
        #[arg(short = 'o', long = "out", value_name = "DIR", default_value = "out/demo")]
        out: PathBuf,
    },
}

fn spinner(msg: &str) -> ProgressBar {
    // indicatif draws only on a terminal; piped output stays quiet.
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

fn step<T>(msg: &str, f: impl FnOnce() -> Result<T>) -> Result<(T, Duration)> {
    let pb = spinner(msg);
    let t = Instant::now();
    let r = f();
    pb.finish_and_clear();
    Ok((r?, t.elapsed()))
}

/// Peak resident memory of this process (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn srs_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ZKINFER_CACHE") {
        return PathBuf::from(d);
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache").join("zkinfer"),
        None => PathBuf::from(".zkinfer-cache"),
    }
}

fn srs_source(srs: Option<PathBuf>) -> SrsSource {
    match srs {
        Some(p) => SrsSource::File(p),
        None => {
            eprintln!("WARNING: no --srs given: using the deterministic DEVELOPMENT SRS. It is INSECURE (anyone can forge proofs); use a ceremony SRS for production.");
            SrsSource::DevCached(srs_cache_dir())
        }
    }
}

/// The project's solc-js driver (`scripts/solc.js`; `ZKINFER_SOLC` overrides).
fn solc_script() -> PathBuf {
    std::env::var_os("ZKINFER_SOLC").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(verifier_gen::evm::SOLC_SCRIPT))
}

fn parse_address(s: &str) -> Result<[u8; 20]> {
    let b = prover::artifact::from_hex(s).filter(|b| b.len() == 20);
    let b = b.with_context(|| format!("--vk-address {s:?} is not a 20-byte 0x-hex address"))?;
    let mut a = [0u8; 20];
    a.copy_from_slice(&b);
    Ok(a)
}

/// Writes Verifier.sol and calldata.hex next to a proof and checks it in the EVM.
fn onchain_artifacts(dir: &Path, proof: &zkinfer::ProofFile, proof_path: &Path) -> Result<Vec<String>> {
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

fn read_text(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
}

fn read_inputs(p: &Path) -> Result<Vec<Vec<f64>>> {
    compiler::parse_input_json(&read_text(p)?).with_context(|| format!("input file {}", p.display()))
}

/// Calibration samples: `{"calibration_data": [[input 0 floats, ...], ...]}` or one input.json.
fn read_calibration(p: &Path) -> Result<Vec<Vec<Vec<f64>>>> {
    compiler::parse_calibration_json(&read_text(p)?).with_context(|| format!("calibration file {}", p.display()))
}

/// `--input-bounds`: `LO,HI` (every input) or `I:LO,HI` (input I).
fn parse_input_bounds(specs: &[String]) -> Result<Vec<compiler::InputBound>> {
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

fn compile_options(a: &CompileArgs) -> Result<CompileOptions> {
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
    })
}

/// On stderr (stdout is for tools): a verifier of a limb-layout circuit costs
/// more gas than the gas layout's would.
fn gas_layout_hint(dir: &Path) {
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

fn print_compiled(m: &pipeline::CompiledModel) {
    let s = &m.settings;
    println!(
        "compiled {}: k={} rows={} (of {} usable) lanes={} limb_bits={} advice_columns={} fixed_columns={} lookups={} table_rows={} scale_bits={} range_bits={} macs={} instances={} layout={} commitments={}",
        s.model, s.k, s.rows, s.usable_rows, s.lanes, s.shape.limb_bits, s.advice_columns, s.fixed_columns, s.lookups, s.lookup_table_rows, s.scale_bits, s.range_bits, s.macs, s.num_instances, s.layout, s.commitments
    );
    let alts: Vec<String> = s
        .layout_candidates
        .iter()
        .take(5)
        .map(|c| match c.layout.as_str() {
            "bits" => format!("bits lanes {}: k={} rows={} cost={}", c.lanes, c.k, c.rows, c.cost),
            _ => format!("lanes {} limb {}: k={} rows={} cost={}", c.lanes, c.limb_bits, c.k, c.rows, c.cost),
        })
        .collect();
    println!("cheapest layouts (estimated cost): {}", alts.join("; "));
    if let Some(c) = &s.calibration {
        println!("{}", calibration_line(c));
    }
}

/// How `compile` chose the fixed-point settings, in one line.
fn calibration_line(c: &compiler::CalibrationReport) -> String {
    let source = match (c.samples, c.input_bounds.is_empty()) {
        (0, true) => "no calibration".to_string(),
        (n, true) => format!("{n} calibration sample(s), range margin {}", c.range_margin),
        (n, false) => format!(
            "input bounds {:?} ({} sample(s) and {} points inside the bounds)",
            c.input_bounds, n, c.bound_samples
        ),
    };
    let tried: Vec<String> = c
        .tried
        .iter()
        .map(|t| match (t.error, &t.failure) {
            (Some(e), _) => {
                format!("s={}{} {:.4}%", t.scale_bits, if t.per_tensor { " per-tensor" } else { "" }, 100.0 * e)
            }
            (None, _) => format!("s={}{} out of range", t.scale_bits, if t.per_tensor { " per-tensor" } else { "" }),
        })
        .collect();
    let mut line = format!(
        "calibration: {source}; scale_bits={} range_bits={} weight_bits={} (chosen by {}; max |v| {:.4})",
        c.scale_bits, c.range_bits, c.weight_bits, c.chosen_by, c.max_abs
    );
    if c.per_tensor {
        line.push_str(&format!("; per-tensor scales (outputs at {:?})", c.output_value_scales));
    }
    if !tried.is_empty() {
        line.push_str(&format!("; error by scale (target {:.4}%): {}", 100.0 * c.target_error, tried.join(", ")));
    }
    line
}

fn write_proof(out: &Path, proof: &zkinfer::ProofFile) -> Result<()> {
    let json = serde_json::to_vec_pretty(proof)?;
    prover::artifact::write_atomic(out, &json)?;
    Ok(())
}

struct RunSummary {
    lines: Vec<String>,
    json: serde_json::Value,
}

/// How `run_all` runs: where the SRS comes from, which prover, quiet output.
struct RunMode {
    srs: SrsSource,
    backend: Backend,
    quiet: bool,
    goal: circuits::Optimize,
}

fn run_all(
    model: ModelRef<'_>,
    input: &[Vec<f64>],
    out: &Path,
    expected: Option<Vec<Vec<f64>>>,
    opts: CompileOptions,
    mode: RunMode,
) -> Result<RunSummary> {
    let RunMode { srs, backend, quiet, goal } = mode;
    backend.check()?;
    let (m, t_compile) = step("compiling", || {
        Ok(match model {
            ModelRef::File(p) => pipeline::compile_for(p, &opts, goal, out)?,
            ModelRef::Bytes(b, name) => pipeline::compile_bytes_for(b, name, &opts, goal, out)?,
        })
    })?;
    if !quiet {
        print_compiled(&m);
    }
    let (su, t_setup) = step("setup (keys)", || Ok(pipeline::setup(out, &srs)?))?;
    let (po, t_prove) = step("proving", || Ok(pipeline::prove_with(out, input, backend)?))?;
    let proof_path = out.join("proof.json");
    write_proof(&proof_path, &po.proof)?;
    let (_, t_verify) = step("verifying", || Ok(pipeline::verify(out, &po.proof, &proof_path)?))?;
    let proof_bytes = (po.proof.proof.len() - 2) / 2;
    let mut lines = vec![
        format!("verified"),
        format!("model        {}", m.settings.model),
        format!("k            {}", m.settings.k),
        format!(
            "rows         {} of {} (lookup table {})",
            m.settings.rows,
            1u64 << m.settings.k,
            m.settings.lookup_table_rows
        ),
        format!("compile      {:.2} s", t_compile.as_secs_f64()),
        format!(
            "setup        {:.2} s (srs {:.2} s, keygen {:.2} s, pk {} bytes, vk {} bytes)",
            t_setup.as_secs_f64(),
            su.srs_ms as f64 / 1e3,
            su.keygen_ms as f64 / 1e3,
            su.pk_bytes,
            su.vk_bytes
        ),
        format!("prove        {:.2} s (witness {:.3} s)", t_prove.as_secs_f64(), po.witness_ms as f64 / 1e3),
        format!("verify       {:.3} s", t_verify.as_secs_f64()),
        format!("proof        {} bytes -> {}", proof_bytes, proof_path.display()),
        format!("peak memory  {:.0} MiB", peak_rss_mib().unwrap_or(f64::NAN)),
        format!("outputs      {:?}", po.proof.outputs),
    ];
    let peak = peak_rss_mib();
    let mut json = serde_json::json!({
        "model": m.settings.model, "k": m.settings.k, "rows": m.settings.rows,
        "usable_rows": m.settings.usable_rows, "table_rows": m.settings.lookup_table_rows,
        "limb_bits": m.settings.limb_bits, "backend": backend.name(),
        "advice_columns": m.settings.advice_columns, "fixed_columns": m.settings.fixed_columns,
        "lookups": m.settings.lookups, "lanes": m.settings.lanes, "macs": m.settings.macs,
        "scale_bits": m.settings.scale_bits, "range_bits": m.settings.range_bits,
        "compile_s": t_compile.as_secs_f64(), "setup_s": t_setup.as_secs_f64(), "keygen_s": su.keygen_ms as f64 / 1e3,
        "prove_s": t_prove.as_secs_f64(), "witness_s": po.witness_ms as f64 / 1e3, "verify_s": t_verify.as_secs_f64(),
        "proof_bytes": proof_bytes, "pk_bytes": su.pk_bytes, "vk_bytes": su.vk_bytes, "peak_rss_mib": peak,
    });
    if let Some(c) = &m.settings.calibration {
        json["calibration"] = serde_json::to_value(c).unwrap_or_default();
        json["range_margin"] = serde_json::json!(c.range_margin);
    }
    if let Some(exp) = expected {
        let acc = zkinfer::max_abs_error(&po.proof.outputs, &exp);
        if let Some(a) = &acc {
            json["max_abs_error"] = serde_json::json!(a.max_abs_error);
            json["relative_error"] = serde_json::json!(a.relative_error);
        }
        match acc {
            Some(a) => lines.push(format!(
                "accuracy     max abs error {:.6} vs float reference ({:.3}% of output range {:.4})",
                a.max_abs_error,
                100.0 * a.relative_error,
                a.output_range
            )),
            None => lines.push("accuracy     expected outputs have a different shape".into()),
        }
    }
    Ok(RunSummary { lines, json })
}

enum ModelRef<'a> {
    File(&'a Path),
    Bytes(&'a [u8], &'a str),
}

const DEMO_MODEL: &[u8] = include_bytes!("../examples/mlp/model.onnx");
const DEMO_INPUT: &str = include_str!("../examples/mlp/input.json");
const DEMO_EXPECTED: &str = include_str!("../examples/mlp/expected.json");
const DEMO_CALIBRATION: &str = include_str!("../examples/mlp/calibration.json");

fn main() {
    // A closed stdout (e.g. `zkinfer inspect m.onnx | head`) ends the program
    // quietly, as other command-line tools do, instead of a panic message.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Compile { model, out, args } => {
            let opts = compile_options(&args)?;
            if opts.calibration.is_empty() && opts.input_bounds.is_empty() && args.scale_bits.is_none() {
                eprintln!(
                    "warning: no --calibrate or --input-bounds: blind fixed-point defaults (scale_bits {}, range_bits {}), \
                     which may lose precision or refuse inputs; pass --calibrate SAMPLES.json (typical inputs) or \
                     --input-bounds LO,HI",
                    compiler::quantize::DEFAULT_SCALE_BITS,
                    args.range_bits.unwrap_or(compiler::quantize::DEFAULT_SCALE_BITS + 5)
                );
            }
            let goal = args.optimize.into();
            let (m, t) = step("compiling", || Ok(pipeline::compile_for(&model, &opts, goal, &out)?))?;
            print_compiled(&m);
            println!(
                "wrote {} and {} in {:.2} s",
                out.join("program.bin").display(),
                out.join("settings.json").display(),
                t.as_secs_f64()
            );
        }
        Cmd::Setup { dir, srs } => {
            let src = srs_source(srs);
            let (s, t) = step("generating keys", || Ok(pipeline::setup(&dir, &src)?))?;
            println!(
                "setup k={} pk={} bytes vk={} bytes in {:.2} s -> {}",
                s.k,
                s.pk_bytes,
                s.vk_bytes,
                t.as_secs_f64(),
                dir.display()
            );
        }
        Cmd::Srs { k, out } => {
            if !(1..=prover::srs::MAX_SRS_K).contains(&k) {
                bail!("--k must be between 1 and {}", prover::srs::MAX_SRS_K);
            }
            eprintln!("WARNING: this is a deterministic DEVELOPMENT SRS; it is INSECURE for production.");
            let (params, t) = step("making SRS", || Ok(prover::srs::dev_srs(k)))?;
            prover::srs::write(&out, &params)?;
            println!("wrote k={k} SRS to {} in {:.2} s", out.display(), t.as_secs_f64());
        }
        Cmd::Prove { dir, input, out, backend } => {
            let inputs = read_inputs(&input)?;
            let (po, t) = step("proving", || Ok(pipeline::prove_with(&dir, &inputs, backend.into())?))?;
            write_proof(&out, &po.proof)?;
            println!(
                "proved in {:.2} s ({} proof bytes) -> {}",
                t.as_secs_f64(),
                (po.proof.proof.len() - 2) / 2,
                out.display()
            );
            println!("outputs {:?}", po.proof.outputs);
        }
        Cmd::Verify { dir, proof } => {
            let pf = pipeline::read_proof_file(&proof)?;
            pipeline::verify(&dir, &pf, &proof)?;
            println!("verified");
        }
        Cmd::Run { model, input, out, expected, srs, json, backend, args } => {
            let mut opts = compile_options(&args)?;
            let inputs = read_inputs(&input)?;
            if opts.calibration.is_empty() && opts.input_bounds.is_empty() {
                eprintln!(
                    "warning: no --calibrate or --input-bounds: calibrating on {} itself (range margin {}); \
                     the keys will prove inputs near this one only. Pass --calibrate SAMPLES.json (typical inputs) \
                     or --input-bounds LO,HI for a model that proves every input you expect",
                    input.display(),
                    opts.range_margin.unwrap_or(compiler::quantize::DEFAULT_RANGE_MARGIN)
                );
                opts.calibration = vec![inputs.clone()];
            }
            let expected = match expected {
                Some(p) => Some(
                    compiler::parse_expected_json(&read_text(&p)?)
                        .with_context(|| format!("expected file {}", p.display()))?,
                ),
                None => None,
            };
            let out = out.unwrap_or_else(|| PathBuf::from("out").join(model.file_stem().unwrap_or_default()));
            let mode =
                RunMode { srs: srs_source(srs), backend: backend.into(), quiet: json, goal: args.optimize.into() };
            let s = run_all(ModelRef::File(&model), &inputs, &out, expected, opts, mode)?;
            if json {
                println!("{}", s.json);
            } else {
                for l in s.lines {
                    println!("{l}");
                }
            }
        }
        Cmd::Inspect { model, json } => {
            let report = compiler::inspect_file(&model).with_context(|| format!("{}", model.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
        }
        Cmd::GenVerifier { dir, out, separate_vk } => {
            gas_layout_hint(&dir);
            match separate_vk {
                None => {
                    let src = zkinfer::onchain::gen_verifier(&dir)?;
                    prover::artifact::write_atomic(&out, src.as_bytes())?;
                    println!("wrote {} (contract {})", out.display(), verifier_gen::VERIFIER_NAME);
                }
                Some(vk_out) => {
                    let (verifier, vk) = zkinfer::onchain::gen_verifier_separate(&dir)?;
                    prover::artifact::write_atomic(&out, verifier.as_bytes())?;
                    prover::artifact::write_atomic(&vk_out, vk.as_bytes())?;
                    println!(
                        "wrote {} (contract {}) and {} (contract {})",
                        out.display(),
                        verifier_gen::REUSABLE_VERIFIER_NAME,
                        vk_out.display(),
                        verifier_gen::VK_NAME
                    );
                }
            }
        }
        Cmd::Calldata { proof, out, vk_address } => {
            let pf = pipeline::read_proof_file(&proof)?;
            let addr = vk_address.as_deref().map(parse_address).transpose()?;
            let data = zkinfer::onchain::calldata(&pf, &proof, addr)?;
            prover::artifact::write_atomic(&out, prover::artifact::to_hex(&data).as_bytes())?;
            println!("wrote {} ({} bytes of calldata)", out.display(), data.len());
        }
        Cmd::VerifyEvm { dir, proof, separate, json } => {
            let pf = pipeline::read_proof_file(&proof)?;
            let (e, _) = step("compiling and running the verifier", || {
                Ok(zkinfer::onchain::verify_evm(&dir, &pf, &proof, &solc_script(), separate)?)
            })?;
            if json {
                println!("{}", serde_json::to_string(&e)?);
            } else {
                println!("ok={} gas={}", e.ok, e.gas);
            }
            if !e.ok {
                bail!("the EVM verifier rejected the proof");
            }
        }
        Cmd::EvmCall { sol, contract, calldata, json } => {
            let src = read_text(&sol)?;
            let hex = read_text(&calldata)?;
            let data = prover::artifact::from_hex(hex.trim())
                .with_context(|| format!("{}: not 0x-hex calldata", calldata.display()))?;
            let (e, _) = step("compiling and calling", || {
                Ok(zkinfer::onchain::call_contract(&src, &contract, data, &solc_script())?)
            })?;
            if json {
                println!("{}", serde_json::to_string(&e)?);
            } else {
                println!("ok={} gas={} code_size={} deploy_gas={}", e.ok, e.gas, e.code_size, e.deploy_gas);
            }
        }
        Cmd::Coverage { corpus, out, json, max_k, ort_reference, family } => {
            if !corpus.is_dir() {
                bail!("{} is not a folder", corpus.display());
            }
            let families = family
                .iter()
                .map(|f| {
                    let (name, dir) = f.split_once('=').with_context(|| format!("--family {f}: expected NAME=DIR"))?;
                    let dir = PathBuf::from(dir);
                    if name.is_empty() || !dir.is_dir() {
                        bail!("--family {f}: {} is not a folder (or the name is empty)", dir.display());
                    }
                    Ok((name.to_string(), dir))
                })
                .collect::<Result<Vec<_>>>()?;
            let default_ref = PathBuf::from("tests/fixtures/quantized_ort.json");
            let ort_reference = match ort_reference {
                Some(p) => Some(p),
                None => default_ref.is_file().then_some(default_ref),
            };
            let ort_reference = match ort_reference {
                Some(p) => Some((
                    zkinfer::ort_agreement::References::read(&p).map_err(|e| anyhow::anyhow!(e))?,
                    p.display().to_string(),
                )),
                None => None,
            };
            let opts = zkinfer::coverage::CoverageOptions { max_k, ort_reference, ..Default::default() };
            let t = Instant::now();
            let mut results = zkinfer::coverage::run(&corpus, &opts, |i, n, r| {
                eprintln!("[{i}/{n}] {} {} ({:.1} s)", r.model, r.status, r.seconds);
            });
            for (name, dir) in &families {
                results.extend(zkinfer::coverage::run_family(dir, name, &opts, |i, n, r| {
                    eprintln!("[{name} {i}/{n}] {} {} ({:.1} s)", r.model, r.status, r.seconds);
                }));
            }
            let secs = t.elapsed().as_secs_f64();
            let mut root = corpus.display().to_string();
            for f in &family {
                root.push_str(&format!(" --family {f}"));
            }
            let md = zkinfer::coverage::markdown(&results, &root, secs, &opts);
            prover::artifact::write_atomic(&out, md.as_bytes())?;
            if let Some(j) = &json {
                prover::artifact::write_atomic(j, &serde_json::to_vec_pretty(&results)?)?;
            }
            for (family, p, n) in zkinfer::coverage::summary(&results) {
                println!("{family}: {p}/{n} passed");
            }
            println!("wrote {} in {secs:.0} s", out.display());
        }
        Cmd::Demo { out } => {
            let inputs = compiler::parse_input_json(DEMO_INPUT)?;
            let expected = compiler::parse_expected_json(DEMO_EXPECTED)?;
            let calibration = compiler::parse_calibration_json(DEMO_CALIBRATION)?;
            let opts = CompileOptions { calibration, ..CompileOptions::default() };
            println!("demo: an MNIST-sized MLP (784-32-16-10, examples/mlp) -> {}", out.display());
            let s = run_all(
                ModelRef::Bytes(DEMO_MODEL, "examples/mlp"),
                &inputs,
                &out,
                Some(expected),
                opts,
                RunMode {
                    srs: srs_source(None),
                    backend: Backend::Cpu,
                    quiet: false,
                    goal: circuits::Optimize::Balanced,
                },
            )?;
            for l in s.lines {
                println!("{l}");
            }
            let proof_path = out.join("proof.json");
            let pf = pipeline::read_proof_file(&proof_path)?;
            for l in onchain_artifacts(&out, &pf, &proof_path)? {
                println!("{l}");
            }
            println!("deploy       see README.md, \"On chain\" (forge create, then eth_call with calldata.hex)");
        }
    }
    Ok(())
}
