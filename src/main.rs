//! The `zkinfer` command line: this file dispatches the commands; `cli/`
//! holds their arguments, shared helpers, reports and the one-go runner.
//! The only place that reads environment variables, terminals and default
//! paths.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use zkinfer::{pipeline, Backend, CompileOptions};

mod cli;

use cli::args::*;
use cli::report::*;
use cli::run::*;
use cli::util::*;

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
    ir::limits::set(limits_from_env()?);
    match cli.cmd {
        Cmd::Compile { model, out, args, max_k, segments, max_memory, lanes } => {
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
            if let Some(k) = max_k.filter(|k| !(4..=circuits::shape::MAX_K).contains(k)) {
                bail!("--max-k {k}: must be between 4 and {}", circuits::shape::MAX_K);
            }
            if segments == Some(0) {
                bail!("--segments must be at least 1");
            }
            if let Some(l) = lanes.filter(|l| !(1..=circuits::shape::MAX_LANES).contains(l)) {
                bail!("--lanes {l}: must be between 1 and {}", circuits::shape::MAX_LANES);
            }
            let limits =
                circuits::Limits { max_k: max_k.unwrap_or(circuits::shape::MAX_K), lanes, max_prove_bytes: max_memory };
            let split = |limits: &circuits::Limits| -> Result<()> {
                let (m, t) = step("compiling segments", || {
                    Ok(zkinfer::segments::compile_limited(&model, &opts, goal, &out, limits, max_k, segments)?)
                })?;
                print_segments(&m, t, &out);
                Ok(())
            };
            if max_k.is_some() || segments.is_some() {
                return split(&limits);
            }
            // The whole model, within the memory budget asked for, else this
            // machine's; split when no shape of it fits.
            let (budget, asked) = match max_memory {
                Some(b) => (Some(b), true),
                None => (prove_memory_budget()?, false),
            };
            let whole = circuits::Limits { max_prove_bytes: budget, ..limits };
            let compiled = step("compiling", || Ok(pipeline::compile_limited(&model, &opts, goal, &whole, &out)?));
            let (m, t) = match compiled {
                Ok(c) => c,
                Err(e) => {
                    let over = e.downcast_ref::<zkinfer::Error>().and_then(|e| match e {
                        zkinfer::Error::Circuit(circuits::CircuitError::OverMemory { need, budget, .. }) => {
                            Some((*need, *budget))
                        }
                        _ => None,
                    });
                    let Some((need, budget)) = over else { return Err(e) };
                    eprintln!(
                        "note: the whole model needs ~{:.1} GiB to prove (predicted, its leanest shape), over {} \
                         {:.1} GiB: splitting into segments that fit (pass --max-k or --max-memory to choose)",
                        gib(need),
                        if asked {
                            "--max-memory"
                        } else {
                            "this machine's (ZKINFER_PROVE_MEMORY_BYTES, else 3/4 of its memory)"
                        },
                        gib(budget)
                    );
                    return split(&whole);
                }
            };
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
            if zkinfer::segments::is_segmented(&dir) {
                let (s, t) = step("generating keys", || Ok(zkinfer::segments::setup(&dir, &src)?))?;
                for (i, s) in s.iter().enumerate() {
                    println!("segment {i}: setup k={} pk={} bytes vk={} bytes", s.k, s.pk_bytes, s.vk_bytes);
                }
                println!("setup {} segments in {:.2} s -> {}", s.len(), t.as_secs_f64(), dir.display());
                return Ok(());
            }
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
        Cmd::Prove { dir, input, out, backend, weights, ray, ray_python, ray_retries, ray_cpus, ray_fail_first } => {
            let inputs = read_inputs(&input)?;
            if ray.is_some() && !zkinfer::segments::is_segmented(&dir) {
                bail!("--ray proves the segments of a segmented model (compile with --max-k or --segments)");
            }
            if zkinfer::segments::is_segmented(&dir) {
                if weights.is_some() {
                    bail!("--weights: a segmented model keeps its weights as circuit constants");
                }
                let t = std::time::Instant::now();
                let p = match ray {
                    Some(address) => {
                        let opts = zkinfer::segments::RayOptions {
                            address,
                            python: ray_python.unwrap_or_else(default_ray_python),
                            zkinfer: std::env::current_exe()?,
                            retries: ray_retries,
                            cpus: ray_cpus,
                            fail_first: ray_fail_first,
                        };
                        zkinfer::segments::prove_on_ray(&dir, &inputs, &opts, |line| eprintln!("{line}"))?
                    }
                    None => zkinfer::segments::prove(&dir, &inputs, backend.into(), |i, n, s| {
                        eprintln!("segment {}/{n}: k={} proved in {:.2} s", i + 1, s.k, s.prove_ms as f64 / 1000.0);
                    })?,
                };
                let json = serde_json::to_vec_pretty(&p)?;
                prover::artifact::write_atomic(&out, &json)?;
                println!(
                    "proved {} segments in {:.2} s -> {}",
                    p.segments.len(),
                    t.elapsed().as_secs_f64(),
                    out.display()
                );
                println!("outputs {:?}", p.outputs);
                return Ok(());
            }
            let (po, t) =
                step("proving", || Ok(pipeline::prove_weights(&dir, &inputs, backend.into(), weights.as_deref())?))?;
            write_proof(&out, &po.proof)?;
            println!(
                "proved in {:.2} s ({} proof bytes) -> {}",
                t.as_secs_f64(),
                (po.proof.proof.len() - 2) / 2,
                out.display()
            );
            println!("outputs {:?}", po.proof.outputs);
        }
        Cmd::ProveSegment { dir, segment, inputs, input, out } => {
            let q = match (inputs, input) {
                (Some(inputs), _) => {
                    let text = ir::limits::read_text(&inputs, ir::limits::max_file_bytes())
                        .with_context(|| format!("reading {}", inputs.display()))?;
                    let q: zkinfer::segments::SegmentInputs = serde_json::from_str(&text)
                        .with_context(|| format!("{}: not {{\"inputs_quantized\": [[...]]}}", inputs.display()))?;
                    q.inputs_quantized
                }
                (None, Some(input)) => {
                    let mut ints = zkinfer::segments::evaluate(&dir, &read_inputs(&input)?)?;
                    if segment >= ints.len() {
                        bail!("{}: has {} segments, no segment {segment}", dir.display(), ints.len());
                    }
                    ints.swap_remove(segment)
                }
                (None, None) => bail!("pass --inputs INPUTS.json or --input INPUT.json"),
            };
            let pf = zkinfer::segments::prove_one(&dir, segment, &q, zkinfer::Backend::Cpu)?;
            write_proof(&out, &pf)?;
            println!("proved segment {segment} -> {}", out.display());
        }
        Cmd::Commitment { dir, weights, input, no_params } => {
            if no_params && input.is_none() {
                bail!("--no-params leaves nothing to commit to: pass --input INPUT.json");
            }
            let inputs = match &input {
                Some(p) => Some(read_inputs(p)?),
                None => None,
            };
            // The params commitment unless left out; with only --input, only
            // where the model has witness parameters.
            let has_params = pipeline::load(&dir)?.program.params.is_some();
            let with_params = !no_params && (weights.is_some() || input.is_none() || has_params);
            let c = pipeline::commitments(&dir, weights.as_deref(), with_params, inputs.as_deref())?;
            println!("{}", serde_json::to_string(&c)?);
        }
        Cmd::Verify { dir, proof } => {
            if zkinfer::segments::is_segmented(&dir) {
                let p = zkinfer::segments::read_proof(&proof)?;
                zkinfer::segments::verify(&dir, &p, &proof)?;
                println!("verified ({} segments)", p.segments.len());
                return Ok(());
            }
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
        Cmd::Serve { dirs, addr, workers, queue, max_body_bytes, timeout, in_process } => {
            serve(&dirs, &addr, workers, queue, max_body_bytes, timeout, !in_process)?;
        }
        Cmd::Inspect { model, json } => {
            let report = compiler::inspect_file(&model)?;
            if !json {
                // Before compiling: the report stands even if compiling fails.
                println!("{report}");
                use std::io::Write;
                let _ = std::io::stdout().flush();
            }
            // The report lists what the loader saw, leniently; whether the
            // model compiles (with `compile`'s defaults) decides the exit code.
            let verdict = compiler::compile_file(&model, &compiler::CompileOptions::default()).err();
            if json {
                let mut v = serde_json::to_value(&report)?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("compiles".into(), verdict.is_none().into());
                    if let Some(e) = &verdict {
                        o.insert("compile_error".into(), e.to_string().into());
                    }
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            if let Some(e) = verdict {
                return Err(anyhow::Error::new(e).context(format!("{} would not compile", model.display())));
            }
        }
        Cmd::GenVerifier { dir, out, separate_vk } => {
            if zkinfer::segments::is_segmented(&dir) {
                if separate_vk.is_some() {
                    bail!("--separate-vk: a segmented model's verifiers are the self-contained form");
                }
                let sources = zkinfer::segments::gen_verifiers(&dir)?;
                let stem =
                    out.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "Verifier".into());
                for (i, src) in sources.iter().enumerate() {
                    let p = out.with_file_name(format!("{stem}.segment{i}.sol"));
                    prover::artifact::write_atomic(&p, src.as_bytes())?;
                    println!("wrote {} (contract {}, segment {i})", p.display(), verifier_gen::VERIFIER_NAME);
                }
                prover::artifact::write_atomic(&out, zkinfer::segments::SEGMENTED_VERIFIER_SOL.as_bytes())?;
                let (ins, outs) = zkinfer::segments::commitment_indices(&dir)?;
                println!(
                    "wrote {} (contract {}: deploy with the segment verifiers' addresses in order, inIndex {ins:?}, \
                     outIndex {outs:?}; call verifyProofs(bytes[], uint256[][]))",
                    out.display(),
                    zkinfer::segments::SEGMENTED_VERIFIER_NAME
                );
                return Ok(());
            }
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
            if zkinfer::segments::is_segmented(&dir) {
                if separate {
                    bail!("--separate: a segmented model's verifiers are the self-contained form");
                }
                let p = zkinfer::segments::read_proof(&proof)?;
                let (e, _) = step("compiling and running the verifiers", || {
                    Ok(zkinfer::segments::verify_evm(&dir, &p, &proof, &solc_script())?)
                })?;
                if json {
                    println!("{}", serde_json::to_string(&e)?);
                } else {
                    println!(
                        "ok={} gas={} segments={} segment_gas={:?}",
                        e.ok,
                        e.gas,
                        e.segment_gas.len(),
                        e.segment_gas
                    );
                }
                if !e.ok {
                    bail!("the EVM verifier rejected the proof");
                }
                return Ok(());
            }
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
            let bugs: Vec<&str> = results
                .iter()
                .filter(|r| matches!(r.outcome, zkinfer::coverage::Outcome::Bug(_)))
                .map(|r| r.model.as_str())
                .collect();
            if !bugs.is_empty() {
                anyhow::bail!(
                    "zkinfer panicked on {} model(s) (a bug, see the report): {}",
                    bugs.len(),
                    bugs.join(", ")
                );
            }
        }
        Cmd::FraudDemo { out, example, json, param_visibility } => {
            let files = zkinfer::retrain::RetrainFiles {
                v1: example.join("model_v1.onnx"),
                v2: example.join("model_v2.onnx"),
                calibration: example.join("calibration.json"),
                input_v1: example.join("flagged_v1.json"),
                input_v2: example.join("flagged_v2.json"),
            };
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let vis = param_visibility.into();
            let r = zkinfer::retrain::walkthrough_with(&files, &out, &srs_source(None), &solc_script(), vis, |s| {
                if !json {
                    let gas = s.gas.map(|g| format!("{g:>9} gas")).unwrap_or_else(|| " ".repeat(13));
                    println!("{} {gas}  {:<58} {}", if s.ok { "ok  " } else { "FAIL" }, s.step, s.detail);
                }
            })?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            }
            if !r.ok {
                bail!("a step of the walkthrough did not go as expected");
            }
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

/// `zkinfer serve`: loads every folder, binds, prints the address, serves
/// until SIGTERM or Ctrl-C, then finishes the requests in flight.
fn serve(
    dirs: &[PathBuf],
    addr: &str,
    workers: Option<usize>,
    queue: usize,
    max_body: usize,
    timeout: f64,
    isolate: bool,
) -> Result<()> {
    use zkinfer::serve::{self, ServeConfig};
    if !(timeout.is_finite() && timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds, got {timeout}");
    }
    let isolate = match isolate {
        true => Some(std::env::current_exe().context("cannot find the zkinfer binary (use --in-process)")?),
        false => None,
    };
    let mut cfg = ServeConfig {
        queue,
        max_body,
        timeout: std::time::Duration::from_secs_f64(timeout),
        isolate,
        ..Default::default()
    };
    if let Some(w) = workers {
        if w == 0 {
            bail!("--workers must be at least 1");
        }
        cfg.workers = w;
    }
    let app = serve::load(dirs, &cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr()?;
        println!(
            "listening on http://{bound} ({} models, {} workers, queue {}, {})",
            dirs.len(),
            cfg.workers,
            cfg.queue,
            if cfg.isolate.is_some() { "proofs in child processes" } else { "proofs in process" }
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        serve::run(listener, app, cfg.max_body, shutdown_signal()).await?;
        println!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// `.venv-ray/bin/python` of the repository the binary was built in (where
/// `scripts/ray-local.sh` installs ray), else `python3` on the PATH.
fn default_ray_python() -> std::path::PathBuf {
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-ray/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

fn gib(b: u64) -> f64 {
    b as f64 / (1u64 << 30) as f64
}

/// What a proof may use on this machine: ZKINFER_PROVE_MEMORY_BYTES, else
/// 3/4 of MemTotal (Linux); `None` when neither is known.
fn prove_memory_budget() -> Result<Option<u64>> {
    if let Ok(v) = std::env::var("ZKINFER_PROVE_MEMORY_BYTES") {
        let b = v
            .trim()
            .replace('_', "")
            .parse()
            .with_context(|| format!("ZKINFER_PROVE_MEMORY_BYTES={v:?} is not a whole number"))?;
        return Ok(Some(b));
    }
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        let kb: u64 = s.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024 / 4 * 3)
    });
    Ok(total)
}
