//! Speed and memory: per model, k, rows, columns, setup/prove/verify time,
//! peak memory and proof size, from one `zkinfer run --json` process per model
//! (so peak memory is per model). Run with `cargo bench --bench prove`.
//! Figures are measured here, never asserted in tests.

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
    println!("| model | k | rows | advice cols | lookups | setup s | prove s | verify s | peak MiB | pk MiB | proof B | max abs err | % of range | verify gas | verifier B | deploy gas | reusable gas |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, dir) in models {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let cal =
            if dir.join("calibration.json").exists() { dir.join("calibration.json") } else { dir.join("input.json") };
        let out = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
            .arg("run")
            .arg(dir.join("model.onnx"))
            .arg("--input")
            .arg(dir.join("input.json"))
            .arg("--expected")
            .arg(dir.join("expected.json"))
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
        println!(
            "| {name} | {} | {} | {} | {} | {:.2} | {:.2} | {:.3} | {:.0} | {:.1} | {} | {:.2e} | {:.3} | {} | {} | {} | {} |",
            v["k"],
            v["rows"],
            v["advice_columns"],
            v["lookups"],
            f("setup_s"),
            f("prove_s"),
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
