//! Hostile input and faults, through the real CLI (issue 13):
//! resource bombs end with a clear error in bounded memory, `inspect` exits
//! non-zero on models `compile` rejects, a killed `setup`/`prove` leaves no
//! partial artifact, and two writers of one path never interleave.

mod common;

#[path = "../compiler/tests/common/build.rs"]
mod build;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use build::{int, Model};
use common::*;

/// Runs the CLI, sampling the child's peak resident memory (VmHWM) until it
/// exits; returns its output and the peak in MiB (the last sample before
/// exit: a lower bound within a few milliseconds of the true peak).
fn zkinfer_measured(args: &[&str], cache: &Path) -> (Output, f64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(args)
        .env("ZKINFER_CACHE", cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0f64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(kb) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
            {
                peak_kib = peak_kib.max(kb);
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("zkinfer {args:?} did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    (child.wait_with_output().unwrap(), peak_kib / 1024.0)
}

fn zkinfer(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkinfer")).args(args).env("ZKINFER_CACHE", cache).output().unwrap()
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Exit code 1, a message containing `needle`, no panic.
fn fails(o: &Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "stdout: {}\nstderr: {err}", String::from_utf8_lossy(&o.stdout));
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 26 Concats, each of the previous value with itself: 4 · 2^26 elements
/// from a model of a few hundred bytes. `constant` starts from an
/// initializer (so folding would build the tensors), else from the input.
fn concat_bomb(constant: bool) -> Vec<u8> {
    let mut m = Model::new(13);
    m.input("x", &[1, 4]);
    if constant {
        m.init("c0", &[1, 4], &[1.0, 2.0, 3.0, 4.0]);
    } else {
        m.node("Identity", &["x"], &["c0"], vec![]);
    }
    for i in 0..26 {
        let (a, b) = (format!("c{i}"), format!("c{}", i + 1));
        m.node("Concat", &[&a, &a], &[&b], vec![int("axis", 1)]);
    }
    m.node("ReduceSum", &["c26"], &["s"], vec![int("keepdims", 1)]);
    m.node("Add", &["x", "s"], &["y"], vec![]);
    m.output("y");
    m.bytes()
}

/// The bar for the bombs: a clear error, under 200 MB.
const PEAK_MIB: f64 = 200.0;

#[test]
fn concat_doubling_bombs_end_with_a_clear_error_in_bounded_memory() {
    let d = tmp("hostile_bombs");
    for constant in [false, true] {
        let bytes = concat_bomb(constant);
        assert!(bytes.len() < 2048, "the bomb is {} bytes", bytes.len());
        let model = d.join(format!("bomb_{constant}.onnx"));
        std::fs::write(&model, &bytes).unwrap();
        for cmd in ["compile", "inspect"] {
            let out = d.join(format!("out_{constant}"));
            let args: Vec<&str> =
                if cmd == "compile" { vec!["compile", s(&model), "-o", s(&out)] } else { vec!["inspect", s(&model)] };
            let (o, peak) = zkinfer_measured(&args, &srs_cache());
            let err = fails(&o, "over the cap of");
            println!("{cmd} concat bomb (constant: {constant}): {:.0} MiB peak; {}", peak, err.trim());
            assert!(peak < PEAK_MIB, "{cmd}: {peak:.0} MiB peak");
            assert!(!out.exists(), "a failed compile left {}", out.display());
        }
    }
}

#[test]
fn devices_and_folders_are_refused_before_reading() {
    let d = tmp("hostile_devices");
    let cache = srs_cache();
    let dir = d.join("mlp");
    ok(&zkinfer(&["compile", s(&repo().join("examples/mlp/model.onnx")), "-o", s(&dir)], &cache));
    let (z, pj) = (d.join("z"), d.join("p.json"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["compile", "/dev/zero", "-o", s(&z)], "not a regular file"),
        (vec!["inspect", "/dev/zero"], "not a regular file"),
        (vec!["inspect", s(&d)], "a folder"),
        (vec!["prove", s(&dir), "--input", "/dev/zero", "-o", s(&pj)], "not a regular file"),
        (vec!["verify", s(&dir), "/dev/zero"], "not a regular file"),
    ];
    for (args, needle) in cases {
        let (o, peak) = zkinfer_measured(&args, &cache);
        let err = fails(&o, needle);
        println!("{}: {:.0} MiB peak; {}", args.join(" "), peak, err.lines().last().unwrap_or(""));
        assert!(peak < PEAK_MIB, "{args:?}: {peak:.0} MiB peak");
    }
    assert!(!z.exists() && !pj.exists());
}

/// `inspect` lists what it can of any graph, but its exit code says whether
/// `compile` would accept the model.
#[test]
fn inspect_exits_non_zero_when_the_model_would_not_compile() {
    let d = tmp("hostile_inspect");
    let cache = srs_cache();
    let good = repo().join("examples/mlp/model.onnx");
    let o = zkinfer(&["inspect", s(&good)], &cache);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = zkinfer(&["inspect", s(&good), "--json"], &cache);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["compiles"], true);

    let mut unknown = Model::new(13);
    unknown.input("x", &[1, 4]).node("FrobnicateV2", &["x"], &["y"], vec![]).output("y");
    let mut cycle = Model::new(13);
    cycle.input("x", &[1, 4]);
    cycle.node("Add", &["x", "b"], &["a"], vec![]).node("Relu", &["a"], &["b"], vec![]).output("b");
    let mut axis = Model::new(13);
    axis.input("x", &[1, 4]).node("Softmax", &["x"], &["y"], vec![int("axis", 5)]).output("y");
    for (name, m, needle) in
        [("unknown_op", unknown, "FrobnicateV2"), ("cycle", cycle, "would not compile"), ("axis", axis, "axis")]
    {
        let p = d.join(format!("{name}.onnx"));
        std::fs::write(&p, m.bytes()).unwrap();
        let o = zkinfer(&["inspect", s(&p)], &cache);
        fails(&o, needle);
        fails(&o, "would not compile");
        let o = zkinfer(&["inspect", s(&p), "--json"], &cache);
        assert_eq!(o.status.code(), Some(1));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["compiles"], false, "{name}");
        assert!(v["compile_error"].as_str().is_some_and(|e| !e.is_empty()), "{name}");
    }
}

/// Hidden temporary files of `write_atomic` in `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with('.') && n.contains(".tmp"))
        .collect()
}

/// `setup` and `prove` killed (SIGKILL) at many points: every artifact that
/// exists is whole (it loads and works); the next run sweeps the killed
/// run's temporary files.
#[test]
fn killed_setup_and_prove_leave_no_partial_artifact() {
    let d = tmp("hostile_kill");
    let cache = d.join("cache");
    let dir = d.join("mlp");
    let input = repo().join("examples/mlp/input.json");
    ok(&zkinfer(&["compile", s(&repo().join("examples/mlp/model.onnx")), "-o", s(&dir)], &cache));
    // Warm the SRS cache so that setup spends its time on keys and writes.
    ok(&zkinfer(&["setup", s(&dir)], &cache));
    let full = Instant::now();
    ok(&zkinfer(&["setup", s(&dir)], &cache));
    let setup_time = full.elapsed();
    let proof = d.join("proof.json");
    let full = Instant::now();
    ok(&zkinfer(&["prove", s(&dir), "--input", s(&input), "-o", s(&proof)], &cache));
    let prove_time = full.elapsed();
    let mut kills = 0;
    for (cmd, total) in [("setup", setup_time), ("prove", prove_time)] {
        for step in 1..=8u32 {
            for f in ["pk.bin", "vk.bin", "proof.json"] {
                let _ = std::fs::remove_file(if f == "proof.json" { proof.clone() } else { dir.join(f) });
            }
            if cmd == "prove" {
                // prove needs the keys: put them back whole first.
                ok(&zkinfer(&["setup", s(&dir)], &cache));
            }
            let args: Vec<&str> = if cmd == "setup" {
                vec!["setup", s(&dir)]
            } else {
                vec!["prove", s(&dir), "--input", s(&input), "-o", s(&proof)]
            };
            let mut child = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
                .args(&args)
                .env("ZKINFER_CACHE", &cache)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(total * step / 8);
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                kills += 1;
            }
            child.wait().unwrap();
            // Whatever exists is whole.
            let keys = dir.join("pk.bin").exists() && dir.join("vk.bin").exists();
            if keys {
                zkinfer::Prover::load(&dir).unwrap_or_else(|e| panic!("{cmd} killed at {step}/8: keys broken: {e}"));
            } else {
                for f in ["pk.bin", "vk.bin"] {
                    if dir.join(f).exists() {
                        // One key without the other is a clear error, never a corrupt parse.
                        let e = zkinfer::Prover::load(&dir).err().map(|e| e.to_string()).unwrap_or_default();
                        assert!(!e.contains("checksum"), "{cmd} killed at {step}/8: {f} is partial: {e}");
                    }
                }
            }
            if proof.exists() {
                let o = zkinfer(&["verify", s(&dir), s(&proof)], &cache);
                assert!(o.status.success(), "{cmd} killed at {step}/8 left a proof that fails: {o:?}");
            }
        }
    }
    println!("killed {kills} runs mid-way (setup {setup_time:?}, prove {prove_time:?} each)");
    assert!(kills > 0, "no run was killed mid-way: the timing probe is wrong");
    // A complete run sweeps what the killed ones left.
    ok(&zkinfer(&["setup", s(&dir)], &cache));
    ok(&zkinfer(&["prove", s(&dir), "--input", s(&input), "-o", s(&proof)], &cache));
    assert_eq!(temp_files(&dir), Vec::<String>::new(), "temporary files left in the model folder");
    assert_eq!(temp_files(&d), Vec::<String>::new(), "temporary files left beside the proof");
}

/// Two processes proving different inputs to one output path at once: the
/// file is one whole proof or the other, never a mix.
#[test]
fn two_writers_of_one_path_never_interleave() {
    let d = tmp("hostile_two_writers");
    let cache = srs_cache();
    let dir = d.join("mlp");
    ok(&zkinfer(&["compile", s(&repo().join("examples/mlp/model.onnx")), "-o", s(&dir)], &cache));
    ok(&zkinfer(&["setup", s(&dir)], &cache));
    let n: usize = zkinfer::load(&dir).unwrap().program.inputs[0].shape.iter().product();
    let inputs: Vec<_> = (0..2)
        .map(|t| {
            let p = d.join(format!("in{t}.json"));
            let v: Vec<f64> = (0..n).map(|i| ((i * 5 + t * 11) % 13) as f64 / 13.0 - 0.5).collect();
            std::fs::write(&p, serde_json::json!({ "input_data": [v] }).to_string()).unwrap();
            p
        })
        .collect();
    let out = d.join("proof.json");
    for round in 0..3 {
        let children: Vec<_> = inputs
            .iter()
            .map(|i| {
                Command::new(env!("CARGO_BIN_EXE_zkinfer"))
                    .args(["prove", s(&dir), "--input", s(i), "-o", s(&out)])
                    .env("ZKINFER_CACHE", &cache)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        let o = zkinfer(&["verify", s(&dir), s(&out)], &cache);
        assert!(o.status.success(), "round {round}: the shared output does not verify: {o:?}");
    }
    assert_eq!(temp_files(&d), Vec::<String>::new());
}

/// The caps come from the environment in the CLI: a lower one applies, an
/// unreadable one is an error naming the variable.
#[test]
fn caps_are_set_from_the_environment() {
    let model = repo().join("examples/mlp/model.onnx");
    let run = |var: &str, v: &str| {
        Command::new(env!("CARGO_BIN_EXE_zkinfer")).args(["inspect", s(&model)]).env(var, v).output().unwrap()
    };
    fails(&run("ZKINFER_MAX_TENSOR_ELEMENTS", "1_000"), "over the cap of 1000");
    fails(&run("ZKINFER_MAX_FILE_BYTES", "100"), "over the cap of 100 bytes");
    fails(&run("ZKINFER_MAX_OP_TERMS", "lots"), "ZKINFER_MAX_OP_TERMS=\"lots\" is not a whole number");
    assert!(run("ZKINFER_MAX_TENSOR_ELEMENTS", "4_194_304").status.success());
}
