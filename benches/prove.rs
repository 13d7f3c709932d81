//! Speed and memory: per model, k, rows, columns, setup/prove/verify time,
//! peak memory and proof size, from one `zkinfer run --json` process per model
//! (so peak memory is per model). Run with `cargo bench --bench prove`.
//! Figures are measured here, never asserted in tests.
//!
//! Row use: `rows/2^k` (the circuit's rows) and `used/2^k` = max(rows, lookup
//! table rows)/2^k. MSM % and FFT %: shares of the prove phase's CPU time, from
//! a second `zkinfer prove` under `perf` (benches/profile_prove.py, which
//! documents the method); `n/a` when perf or python3 is missing or not allowed.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let corpus = repo.join("..").join("shared").join("corpus");
    let mut models: Vec<(String, PathBuf)> =
        vec![("examples/mlp".into(), repo.join("examples/mlp")), ("examples/cnn".into(), repo.join("examples/cnn"))];
    for m in ["ezkl/3l_relu_conv_fc", "ezkl/variable_cnn"] {
        if corpus.join(m).exists() {
            models.push((m.into(), corpus.join(m)));
        }
    }
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let tmp = std::env::temp_dir().join("zkinfer-bench");
    let cache =
        std::env::var_os("ZKINFER_CACHE").map(PathBuf::from).unwrap_or_else(|| repo.join("target").join("srs-cache"));
    println!("| model | k | rows | table rows | rows/2^k % | used/2^k % | advice cols | lookups | setup s | prove s | MSM % | FFT % | verify s | peak MiB | pk MiB | proof B | max abs err | % of range | verify gas | verifier B | deploy gas | reusable gas |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, src) in models {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let cal =
            if src.join("calibration.json").exists() { src.join("calibration.json") } else { src.join("input.json") };
        let out = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
            .arg("run")
            .arg(src.join("model.onnx"))
            .arg("--input")
            .arg(src.join("input.json"))
            .arg("--expected")
            .arg(src.join("expected.json"))
            .arg("--calibrate")
            .arg(&cal)
            .arg("-o")
            .arg(tmp.join(name.replace('/', "_")))
            .arg("--json")
            .env("ZKINFER_CACHE", &cache)
            .output()
            .expect("run zkinfer");
        if !out.status.success() {
            println!("| {name} | failed: {} |", String::from_utf8_lossy(&out.stderr).trim());
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json summary");
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        let dir = tmp.join(name.replace('/', "_"));
        let evm = |separate: bool| -> serde_json::Value {
            let mut c = Command::new(env!("CARGO_BIN_EXE_zkinfer"));
            c.arg("verify-evm").arg(&dir).arg(dir.join("proof.json")).arg("--json");
            if separate {
                c.arg("--separate");
            }
            c.output().ok().and_then(|o| serde_json::from_slice(&o.stdout).ok()).unwrap_or(serde_json::Value::Null)
        };
        let (own, reusable) = (evm(false), evm(true));
        let size = (1u64 << v["k"].as_u64().unwrap_or(0)) as f64;
        let (rows, table) = (f("rows"), f("table_rows"));
        let profile = Command::new("python3")
            .arg(repo.join("benches/profile_prove.py"))
            .arg("--zkinfer")
            .arg(env!("CARGO_BIN_EXE_zkinfer"))
            .arg(&dir)
            .arg(src.join("input.json"))
            .output()
            .ok()
            .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
            .unwrap_or(serde_json::Value::Null);
        let share = |k: &str| match profile[k].as_f64() {
            Some(x) if profile.get("error").is_none() => format!("{:.0}", 100.0 * x),
            _ => "n/a".into(),
        };
        println!(
            "| {name} | {} | {} | {} | {:.0} | {:.0} | {} | {} | {:.2} | {:.2} | {} | {} | {:.3} | {:.0} | {:.1} | {} | {:.2e} | {:.3} | {} | {} | {} | {} |",
            v["k"],
            v["rows"],
            v["table_rows"],
            100.0 * rows / size,
            100.0 * rows.max(table) / size,
            v["advice_columns"],
            v["lookups"],
            f("setup_s"),
            f("prove_s"),
            share("msm_share"),
            share("fft_share"),
            f("verify_s"),
            f("peak_rss_mib"),
            f("pk_bytes") / 1048576.0,
            v["proof_bytes"],
            f("max_abs_error"),
            100.0 * f("relative_error"),
            own["gas"],
            own["code_size"],
            own["deploy_gas"],
            reusable["gas"],
        );
    }
}
