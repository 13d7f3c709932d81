//! What `compile` and `prove` print and write.

use std::path::Path;

use anyhow::Result;
use zkinfer::pipeline;

pub(crate) fn print_compiled(m: &pipeline::CompiledModel) {
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
pub(crate) fn calibration_line(c: &compiler::CalibrationReport) -> String {
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

pub(crate) fn write_proof(out: &Path, proof: &zkinfer::ProofFile) -> Result<()> {
    let json = serde_json::to_vec_pretty(proof)?;
    prover::artifact::write_atomic(out, &json)?;
    Ok(())
}

/// What `compile` prints for a segmented model.
pub(crate) fn print_segments(m: &zkinfer::segments::Manifest, t: std::time::Duration, out: &std::path::Path) {
    for (i, s) in m.segments.iter().enumerate() {
        println!(
            "segment {i}: nodes {}..{} k={} rows={} inputs {} elements, outputs {} elements",
            s.nodes[0], s.nodes[1], s.k, s.rows, s.input_elements, s.output_elements
        );
    }
    println!(
        "compiled {} into {} segments in {:.2} s -> {}",
        m.model,
        m.segments.len(),
        t.as_secs_f64(),
        out.join(zkinfer::segments::MANIFEST).display()
    );
}
