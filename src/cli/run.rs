//! `run` and `demo`: compile, setup, prove and verify in one go, with a summary.

use std::path::Path;

use anyhow::Result;
use zkinfer::{pipeline, Backend, CompileOptions, SrsSource};

use crate::cli::report::{print_compiled, write_proof};
use crate::cli::util::{peak_rss_mib, step};

pub(crate) struct RunSummary {
    pub(crate) lines: Vec<String>,
    pub(crate) json: serde_json::Value,
}

/// How `run_all` runs: where the SRS comes from, which prover, quiet output.
pub(crate) struct RunMode {
    pub(crate) srs: SrsSource,
    pub(crate) backend: Backend,
    pub(crate) quiet: bool,
    pub(crate) goal: circuits::Optimize,
}

pub(crate) fn run_all(
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

pub(crate) enum ModelRef<'a> {
    File(&'a Path),
    Bytes(&'a [u8], &'a str),
}

pub(crate) const DEMO_MODEL: &[u8] = zkinfer::EXAMPLE_MODEL;
pub(crate) const DEMO_INPUT: &str = include_str!("../../examples/mlp/input.json");
pub(crate) const DEMO_EXPECTED: &str = include_str!("../../examples/mlp/expected.json");
pub(crate) const DEMO_CALIBRATION: &str = include_str!("../../examples/mlp/calibration.json");
