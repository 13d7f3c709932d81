//! Preprocessing: `Scaler`, `Binarizer`, `Normalizer`, `Imputer`, `ZipMap`,
//! `ArrayFeatureExtractor`, `OneHotEncoder` (see the module docs of `ml`).

use super::*;

/// Per-feature parameter `v` (one value, or one per feature).
fn per_feature(ctx: &NodeCtx, key: &str, v: &[f64], f: usize, default: f64) -> Result<Vec<f64>> {
    match v.len() {
        0 => Ok(vec![default; f]),
        1 => Ok(vec![v[0]; f]),
        k if k == f => Ok(v.to_vec()),
        k => Err(ctx.attrs().err(key, format!("{k} values for {f} features"))),
    }
}

pub fn scaler(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let (n, f) = rows(b, ctx, x)?;
    let offset = per_feature(ctx, "offset", &floats(ctx, "offset").unwrap_or_default(), f, 0.0)?;
    let scale = per_feature(ctx, "scale", &floats(ctx, "scale").unwrap_or_default(), f, 1.0)?;
    let w: Vec<f64> = (0..n * f).map(|i| scale[i % f]).collect();
    let c: Vec<f64> = (0..n * f).map(|i| -offset[i % f] * scale[i % f]).collect();
    Ok(vec![combine(b, ctx, &ctx.name, &[(x, &w)], &c)?])
}

pub fn binarizer(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let t = ctx.attrs().float_or("threshold", 0.0);
    let d = scale_shift(b, ctx, &ctx.sub("diff"), x, 1.0, -t)?;
    let shape = b.shape(x).to_vec();
    Ok(vec![b.push(ctx, &ctx.name, FOp::Step { or_equal: false }, vec![d], shape)?])
}

pub fn normalizer(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x0 = ctx.input(0)?;
    let (n, f) = rows(b, ctx, x0)?;
    let x = b.push(ctx, &ctx.sub("rows"), FOp::Reshape, vec![x0], vec![n, f])?;
    let norm = ctx.attrs().string("norm").unwrap_or_else(|| "MAX".into());
    let r = match norm.as_str() {
        "MAX" => {
            let m = reduce_max(b, ctx, &ctx.sub("max"), x, &[1])?;
            func(b, ctx, &ctx.sub("reciprocal"), m, Func::Reciprocal)?
        }
        "L1" => {
            // |x| = 2·relu(x) - x
            let r = relu_of(b, ctx, &ctx.sub("relu"), x)?;
            let a = weighted_sum(b, ctx, &ctx.sub("abs"), r, 2.0, x, -1.0, vec![n, f])?;
            let s = reduce_sum(b, ctx, &ctx.sub("sum"), a, &[1], false)?;
            func(b, ctx, &ctx.sub("reciprocal"), s, Func::Reciprocal)?
        }
        "L2" => {
            let sq = product(b, ctx, &ctx.sub("square"), x, x, vec![n, f])?;
            let s = reduce_sum(b, ctx, &ctx.sub("sum"), sq, &[1], false)?;
            func(b, ctx, &ctx.sub("rsqrt"), s, Func::Rsqrt(0.0))?
        }
        other => return Err(ctx.attrs().err("norm", format!("{other} is not one of MAX, L1, L2"))),
    };
    let y = product(b, ctx, &ctx.sub("scaled"), x, r, vec![n, f])?;
    let shape = b.shape(x0).to_vec();
    Ok(vec![b.push(ctx, &ctx.name, FOp::Reshape, vec![y], shape)?])
}

/// Imputer replacing NaN (what skl2onnx emits for SimpleImputer): an
/// identity, since fixed-point inputs have no NaN (a NaN input is refused
/// when inputs are quantized). Replacing a number is a clear error.
pub fn imputer(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let r = ctx.attrs().float_or("replaced_value_float", f64::NAN);
    if !r.is_nan() {
        return Err(ctx.attrs().err("replaced_value_float", format!("only NaN is supported, not {r}")));
    }
    if b.int_values.contains(&x) {
        return Err(ctx.attrs().err("replaced_value_int64", "integer inputs are not supported"));
    }
    let shape = b.shape(x).to_vec();
    Ok(vec![b.push(ctx, &ctx.name, FOp::Reshape, vec![x], shape)?])
}

/// ZipMap: the probability tensor itself (see the module documentation).
pub fn zipmap(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    if b.shape(x).len() != 2 {
        return Err(ctx.shape_err(format!("expected [N, C] probabilities, got {:?}", b.shape(x))));
    }
    Ok(vec![x])
}

/// ArrayFeatureExtractor(X, indices): `X[..., indices]`, constant indices.
pub fn array_feature_extractor(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let idx = b.const_ints(ctx, ctx.input(1)?)?;
    let s = b.shape(x).to_vec();
    let last = *s.last().ok_or_else(|| ctx.shape_err("a scalar input"))?;
    let cols = idx
        .iter()
        .map(|&i| usize::try_from(i).ok().filter(|&i| i < last))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| ctx.shape_err(format!("indices {idx:?} out of range for a last axis of {last}")))?;
    let outer = s[..s.len() - 1].iter().product::<usize>();
    let map: Vec<u32> = (0..outer).flat_map(|o| cols.iter().map(move |&c| (o * last + c) as u32)).collect();
    let mut out = s[..s.len() - 1].to_vec();
    out.push(cols.len());
    if s.len() == 1 {
        out = vec![1, cols.len()];
    }
    Ok(vec![b.push(ctx, &ctx.name, FOp::Gather(map), vec![x], out)?])
}

/// OneHotEncoder with integer categories: `[x == c]` for integer-valued `x`.
pub fn one_hot_encoder(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    if ctx.attrs().strings("cats_strings").is_some_and(|v| !v.is_empty()) {
        return Err(ctx.attrs().err("cats_strings", "string categories are not supported (cats_int64s are)"));
    }
    let cats = required_ints(ctx, "cats_int64s")?;
    // onnxruntime truncates float inputs to int64 first; skl2onnx emits a Cast (a Trunc table) before it.
    let integral = b.int_values.contains(&x) || matches!(b.graph.nodes[x].op, FOp::Func(Func::Trunc));
    let x = if integral || b.is_const(x) { x } else { func(b, ctx, &ctx.sub("trunc"), x, Func::Trunc)? };
    if cats.is_empty() {
        return Err(ctx.attrs().err("cats_int64s", "no categories"));
    }
    let s = b.shape(x).to_vec();
    let m = s.iter().product::<usize>();
    let k = cats.len();
    let mut out = s.clone();
    out.push(k);
    let side = |off: f64| {
        let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
        for i in 0..m {
            for &c in &cats {
                aff.cols.push(i as u32);
                aff.weights.push(1.0);
                aff.row_ptr.push(aff.cols.len() as u32);
                aff.bias.push(off - c as f64);
            }
        }
        aff
    };
    let lo = b.push(ctx, &ctx.sub("above_lo/diff"), FOp::Affine(side(0.5)), vec![x], out.clone())?;
    let lo = b.push(ctx, &ctx.sub("above_lo"), FOp::Step { or_equal: false }, vec![lo], out.clone())?;
    let hi = b.push(ctx, &ctx.sub("above_hi/diff"), FOp::Affine(side(-0.5)), vec![x], out.clone())?;
    let hi = b.push(ctx, &ctx.sub("above_hi"), FOp::Step { or_equal: false }, vec![hi], out.clone())?;
    Ok(vec![combine(b, ctx, &ctx.name, &[(lo, &[1.0]), (hi, &[-1.0])], &[0.0])?])
}
