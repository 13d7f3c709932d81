//! Command-line arguments: the commands and their flags (a contract other
//! tools call: keep the forms stable, extend them compatibly).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use zkinfer::{Backend, Visibility};

#[derive(Parser)]
#[command(name = "zkinfer", version, about = "Zero-knowledge proofs of ONNX model inference (Halo2, KZG on BN254)")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Vis {
    Public,
    Private,
    /// A Poseidon commitment to the quantized tensor is public, not the tensor.
    Hashed,
}

impl From<Vis> for Visibility {
    fn from(v: Vis) -> Self {
        match v {
            Vis::Public => Visibility::Public,
            Vis::Private => Visibility::Private,
            Vis::Hashed => Visibility::Hashed,
        }
    }
}

/// Where the weights live (EZKL's vocabulary).
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ParamVis {
    /// Constants of the circuit: the keys and the verifier are per weight set.
    Fixed,
    /// A witness: one key per architecture; the proof says "some weights".
    Private,
    /// A witness whose Poseidon commitment is a public instance: one key and
    /// one verifier per architecture, the weights bound by the commitment.
    Hashed,
    /// A witness in unblinded advice columns whose KZG commitments in the
    /// proof bind it (keccak256 of them is the `params` commitment): one key
    /// per architecture at about the cost of `private`; each proof reveals
    /// a few random linear combinations of the weights (public models).
    Polycommit,
}

impl From<ParamVis> for Visibility {
    fn from(v: ParamVis) -> Self {
        match v {
            ParamVis::Fixed => Visibility::Fixed,
            ParamVis::Private => Visibility::Private,
            ParamVis::Hashed => Visibility::Hashed,
            ParamVis::Polycommit => Visibility::Polycommit,
        }
    }
}

/// The committed parameter visibilities (`fraud-demo`).
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum CommittedVis {
    Hashed,
    Polycommit,
}

impl From<CommittedVis> for Visibility {
    fn from(v: CommittedVis) -> Self {
        match v {
            CommittedVis::Hashed => Visibility::Hashed,
            CommittedVis::Polycommit => Visibility::Polycommit,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Scales {
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
pub(crate) enum ProverBackend {
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
pub(crate) struct CompileArgs {
    /// Sample inputs to calibrate ranges on: an input.json ({"input_data": ...})
    /// or {"calibration_data": [[input 0 floats, ...], ...]} (one entry per sample).
    #[arg(long, value_name = "INPUT.json")]
    pub(crate) calibrate: Option<PathBuf>,
    /// Fixed-point fractional bits of activations and weights.
    #[arg(long, value_name = "N")]
    pub(crate) scale_bits: Option<u32>,
    /// Activation range: |values| < 2^N at the fixed-point scale (overrides calibration).
    #[arg(long, value_name = "N")]
    pub(crate) range_bits: Option<u32>,
    /// Significant bits of each layer's quantized weights (default 16).
    #[arg(long, value_name = "N")]
    pub(crate) weight_bits: Option<u32>,
    /// Headroom on calibrated ranges: every value may reach M times its
    /// calibrated magnitude (default 2; 1 = the samples' extremes exactly).
    #[arg(long, value_name = "M")]
    pub(crate) range_margin: Option<f64>,
    /// Declared bounds of the model inputs, `LO,HI` for all of them or
    /// `I:LO,HI` for input I (repeatable): ranges are derived by sound interval
    /// propagation, so every input inside the bounds proves.
    #[arg(long, value_name = "LO,HI", allow_hyphen_values = true)]
    pub(crate) input_bounds: Vec<String>,
    /// Fixed-point scales of activations: `auto` (one global scale where it
    /// meets the accuracy target, else per-tensor scales where they are more
    /// accurate), `global`, or `per-tensor` (each value at the finest scale
    /// its calibrated range allows).
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) scales: Scales,
    #[arg(long, value_enum, default_value = "private")]
    pub(crate) input_visibility: Vis,
    #[arg(long, value_enum, default_value = "public")]
    pub(crate) output_visibility: Vis,
    /// `fixed` (weights are circuit constants), `private` or `hashed`
    /// (weights are a witness, so one key and one verifier serve every
    /// retrained weight set; `hashed` publishes their commitment).
    #[arg(long, value_enum, default_value = "fixed")]
    pub(crate) param_visibility: ParamVis,
    /// What the circuit layout minimizes: `gas` (fewest commitments: the
    /// cheapest on-chain verification, slower proofs), `prove` (fastest
    /// proof), or `balanced` between them.
    #[arg(long, value_enum, default_value = "balanced")]
    pub(crate) optimize: Goal,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Goal {
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
pub(crate) enum Cmd {
    /// Compile an ONNX model into DIR (program.bin, settings.json).
    Compile {
        model: PathBuf,
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        args: CompileArgs,
        /// Split the model into segments of at most 2^K rows each, bound to
        /// each other by commitments (DIR/segments.json, DIR/segment<i>/);
        /// setup, prove and verify then handle every segment.
        #[arg(long, value_name = "K")]
        max_k: Option<u32>,
        /// Split the model into (at most) N segments of similar size.
        #[arg(long, value_name = "N")]
        segments: Option<usize>,
        /// Keep each proof's predicted peak memory within SIZE (bytes, or with
        /// a unit: 6GiB, 512MiB, 8GB): the planner takes leaner shapes (fewer
        /// columns), and a model that still does not fit is split into
        /// segments that do. Without it (and without --max-k/--segments) a
        /// model whose proof would not fit this machine is split by itself.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_memory: Option<u64>,
        /// Force the dot-product lane count (columns per row) instead of
        /// letting the planner choose (benchmarks; memory against columns).
        #[arg(long, value_name = "N")]
        lanes: Option<usize>,
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
        /// Prove with the weights of this model file (another weight set of
        /// the compiled architecture, same keys); default: the compiled ones.
        #[arg(long, value_name = "MODEL.onnx")]
        weights: Option<PathBuf>,
        /// A segmented model: prove each segment as a task on this Ray
        /// cluster (`bash scripts/ray-local.sh start` prints a local one's
        /// address). DIR must be a folder every worker sees.
        #[arg(long, value_name = "ADDRESS")]
        ray: Option<String>,
        /// The python with `ray` the driver runs in (default:
        /// `.venv-ray/bin/python` beside the binary's repository, else python3).
        #[arg(long, value_name = "PYTHON")]
        ray_python: Option<PathBuf>,
        /// Retries of a failed segment task.
        #[arg(long, default_value_t = 2)]
        ray_retries: u32,
        /// CPUs per segment task.
        #[arg(long, default_value_t = 1.0)]
        ray_cpus: f64,
        /// Test hook: make this segment's first Ray attempt fail.
        #[arg(long, hide = true)]
        ray_fail_first: Option<usize>,
    },
    /// Prove one segment of a segmented model on its integer inputs (what
    /// each Ray task runs): {"inputs_quantized": [[...]]} in, a proof file out.
    /// With --input instead, on the model's input (the segments before it
    /// are evaluated, not proven): to re-prove one segment, or measure one.
    ProveSegment {
        dir: PathBuf,
        #[arg(long)]
        segment: usize,
        #[arg(long, value_name = "INPUTS.json", required_unless_present = "input", conflicts_with = "input")]
        inputs: Option<PathBuf>,
        /// The model's input (as `prove --input` reads it).
        #[arg(long, value_name = "INPUT.json")]
        input: Option<PathBuf>,
        #[arg(short = 'o', long = "out", value_name = "PROOF.json")]
        out: PathBuf,
    },
    /// Print the Poseidon commitments a proof of the model in DIR would
    /// publish: {"params": "0x..."} (and "input" with --input), as JSON.
    Commitment {
        dir: PathBuf,
        /// The weights to commit to (default: the compiled model's).
        #[arg(long, value_name = "MODEL.onnx")]
        weights: Option<PathBuf>,
        /// Also the commitment to this input (quantized as the circuit reads
        /// it; what `--input-visibility hashed` publishes). Alone on a model
        /// with fixed params, only the input's.
        #[arg(long, value_name = "INPUT.json")]
        input: Option<PathBuf>,
        /// Leave the params commitment out (with --input).
        #[arg(long)]
        no_params: bool,
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
    /// Serve compiled (and set up) model folders over HTTP, each under its
    /// folder name: /health, /v1/models, /v1/models/NAME/prove|verify, /metrics.
    Serve {
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Address to listen on (port 0: any free port; the bound address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Proofs running at once (default: half the cores, at least 1).
        #[arg(long)]
        workers: Option<usize>,
        /// Prove requests waiting beyond the workers; more get 429.
        #[arg(long, default_value_t = 16)]
        queue: usize,
        /// Largest request body in bytes; more get 413.
        #[arg(long, default_value_t = 4 << 20)]
        max_body_bytes: usize,
        /// Seconds a prove request may take, queue wait included; past it 504.
        #[arg(long, default_value_t = 300.0)]
        timeout: f64,
        /// Prove in the server process (keys loaded once) instead of a child
        /// process per proof (the default: killed at its time limit, so a
        /// timed-out proof frees its worker at once, and a prover crash cannot
        /// take the server down; keys are read per proof). In process, a
        /// running proof cannot be stopped and keeps its worker until it ends.
        #[arg(long)]
        in_process: bool,
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
    /// The committed-model loop on examples/fraud: compile with hashed
    /// params, one key, deploy the verifier and a ModelRegistry (in revm),
    /// approve v1, prove and submit, retrain: approve v2, revoke v1, prove v2
    /// with the same key and verifier; a v1 proof is then rejected. Prints gas.
    FraudDemo {
        #[arg(short = 'o', long = "out", value_name = "DIR", default_value = "out/fraud")]
        out: PathBuf,
        /// The example's folder (model_v1.onnx, model_v2.onnx, calibration.json,
        /// flagged_v1.json, flagged_v2.json).
        #[arg(long, value_name = "DIR", default_value = "examples/fraud")]
        example: PathBuf,
        /// Print the steps as one JSON object.
        #[arg(long)]
        json: bool,
        /// How the weights are committed: `hashed` (a Poseidon instance,
        /// `ModelRegistry`) or `polycommit` (the weight columns' KZG
        /// commitments in the proof, `PolycommitModelRegistry`).
        #[arg(long, value_enum, default_value = "hashed")]
        param_visibility: CommittedVis,
    },
    /// Run the whole path on the embedded example model (an MNIST-sized MLP).
    Demo {
        #[arg(short = 'o', long = "out", value_name = "DIR", default_value = "out/demo")]
        out: PathBuf,
    },
}

/// A byte count: digits (a decimal point allowed with a unit) and an
/// optional unit B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB
/// (powers of 1024); case-insensitive.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num = num.replace('_', "");
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" | "t" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        u => return Err(format!("{s:?}: unknown unit {u:?} (use B, KB, MB, GB, KiB, MiB, GiB)")),
    };
    let v: f64 = num.parse().map_err(|_| format!("{s:?} is not a size (e.g. 6GiB, 512MiB, 8000000000)"))?;
    let bytes = v * mult as f64;
    if !bytes.is_finite() || !(1.0..1.8e19).contains(&bytes) {
        return Err(format!("{s:?}: must be at least 1 byte and below 2^64"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_units_and_bad_ones_are_named() {
        assert_eq!(parse_size("6GiB"), Ok(6 << 30));
        assert_eq!(parse_size("6 gib"), Ok(6 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("8000000000"), Ok(8_000_000_000));
        for bad in ["", "lots", "6XB", "0", "-1GiB", "1e30"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
