//! `LinearClassifier` and `LinearRegressor` (see the module docs of `ml`).

use super::*;

pub fn linear_classifier(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let (n, f) = rows(b, ctx, x)?;
    let coef = required_floats(ctx, "coefficients")?;
    let labels = int_labels(ctx, "classlabels_ints", "classlabels_strings")?
        .ok_or_else(|| ctx.attrs().err("classlabels_ints", "required attribute missing"))?;
    let intercepts = floats(ctx, "intercepts").unwrap_or_default();
    if f == 0 || coef.len() % f != 0 {
        return Err(ctx.attrs().err("coefficients", format!("{} values do not divide into rows of {f}", coef.len())));
    }
    let c = coef.len() / f;
    if !intercepts.is_empty() && intercepts.len() != c {
        return Err(ctx.attrs().err("intercepts", format!("{} values for {c} coefficient rows", intercepts.len())));
    }
    let s = dense(b, ctx, &ctx.sub("scores_raw"), x, (n, f), &coef, &intercepts, c)?;
    if c == 1 && labels.len() == 2 {
        return binary_outputs(b, ctx, s, &labels, Binary { threshold: 0.0, none: (-1.0, 1.0) });
    }
    if c != labels.len() {
        return Err(ctx.attrs().err("coefficients", format!("{c} coefficient rows for {} class labels", labels.len())));
    }
    let idx = arg_max_rows(b, ctx, s)?;
    let label = labels_of(b, ctx, idx, &labels)?;
    let scores = post_transform(b, ctx, s)?;
    Ok(vec![label, scores])
}

pub fn linear_regressor(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let (n, f) = rows(b, ctx, x)?;
    let coef = required_floats(ctx, "coefficients")?;
    let targets = ctx.attrs().int_or("targets", 1).max(1) as usize;
    if coef.len() != targets * f {
        return Err(ctx
            .attrs()
            .err("coefficients", format!("{} values for {targets} targets of {f} features", coef.len())));
    }
    let intercepts = floats(ctx, "intercepts").unwrap_or_default();
    let s = dense(b, ctx, &ctx.sub("raw"), x, (n, f), &coef, &intercepts, targets)?;
    Ok(vec![post_transform(b, ctx, s)?])
}
