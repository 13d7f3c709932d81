//! The `ai.onnx.ml` domain (what skl2onnx and onnxmltools emit for tabular
//! models), lowered to the core ops; inputs are `[N, F]` (or `[F]`, one row).
//!
//! - `LinearClassifier` / `LinearRegressor`: an `Affine` `X·Wᵀ + b`, then the
//!   post transform (NONE, LOGISTIC, SOFTMAX). A binary classifier with one
//!   coefficient row gives two score columns as onnxruntime does: `[1 - s, s]`
//!   (NONE) or `[1 - σ(s), σ(s)]` (LOGISTIC), label `[s > 0]`. A binary tree
//!   ensemble with one score column: `[1 - p, p]`, label `[p > ½]` when every
//!   leaf weight is `>= 0`, else `[-s, s]` / `[1 - σ(s), σ(s)]`, label `[s > 0]`.
//! - `Scaler` `(x - offset)·scale`, `Binarizer` `[x > threshold]`,
//!   `Normalizer` MAX / L1 / L2 (`x · 1/max`, `x · 1/Σ|x|`, `x · rsqrt(Σx²)`).
//! - `Imputer` of NaN (skl2onnx's SimpleImputer): an identity, as fixed-point
//!   inputs cannot be NaN.
//! - `ArrayFeatureExtractor` with constant indices: a `Gather` along the last
//!   axis; `OneHotEncoder` (`cats_int64s`) on integer-valued input (a float
//!   input is truncated first, as onnxruntime does):
//!   `[x > c - ½] - [x > c + ½]` per category (an unknown category gives
//!   zeros, also with `zeros = 0`, where onnxruntime fails).
//! - `ZipMap`: an identity. Its ONNX output is a sequence of maps
//!   `{label: probability}`; here it is the `[N, C]` probability tensor it is
//!   built from (the inspect report notes this).
//! - `TreeEnsembleClassifier` / `TreeEnsembleRegressor`, as hummingbird's GEMM
//!   strategy: one `Step` per internal node (`[x_f <= t]`, `<`, `>=`, `>`),
//!   one indicator per leaf `[Σ_path (c or 1 - c) - depth + ½ > 0]` (reached
//!   iff every condition on its path holds), and an `Affine` of the leaf
//!   indicators with the leaf weights (SUM / AVERAGE, base values), then the
//!   post transform. Conditions compare *quantized* inputs with the threshold
//!   rounded to the same scale: they are exact for inputs more than one
//!   quantum (`2^-s`) away from every threshold; closer ones may take either
//!   branch. NaN inputs (missing values) are refused when inputs are quantized, so
//!   `nodes_missing_value_tracks_true` is irrelevant.
//! - `TreeEnsemble` (ai.onnx.ml opset 5): the same lowering; leaves are
//!   their own array (`nodes_trueleafs`/`nodes_falseleafs` say which), modes
//!   and post transforms are integers; MEMBER/EQ/NEQ are a clear error.
//! - Labels: ArgMax over the scores (first maximum), mapped to
//!   `classlabels_ints` / `classlabels_int64s` by an `Affine` when the labels
//!   are evenly spaced (`0, 1, …`), else by a sum of `[idx >= j]` steps.
//!   String labels are unsupported (a clear error): re-export with integers.

use std::collections::HashMap;

use crate::error::Result;
use crate::frontend::func::Func;
use crate::frontend::graph::{Affine, FOp, ValueId, Windows};
use crate::frontend::ops::activation::{combine, relu_of, scale_shift};
use crate::frontend::ops::elementwise::{product, weighted_sum};
use crate::frontend::ops::nonlinear::{func, reduce_max, reduce_sum};
use crate::frontend::ops::Converter;
use crate::frontend::{Builder, NodeCtx};

mod linear;
mod preprocess;
mod trees;

use linear::{linear_classifier, linear_regressor};
use preprocess::{array_feature_extractor, binarizer, imputer, normalizer, one_hot_encoder, scaler, zipmap};
use trees::{tree_classifier, tree_ensemble, tree_regressor};

pub fn converter(op: &str) -> Option<Converter> {
    Some(match op {
        "LinearClassifier" => linear_classifier,
        "LinearRegressor" => linear_regressor,
        "Scaler" => scaler,
        "Binarizer" => binarizer,
        "Normalizer" => normalizer,
        "ZipMap" => zipmap,
        "Imputer" => imputer,
        "ArrayFeatureExtractor" => array_feature_extractor,
        "OneHotEncoder" => one_hot_encoder,
        "TreeEnsembleClassifier" => tree_classifier,
        "TreeEnsembleRegressor" => tree_regressor,
        "TreeEnsemble" => tree_ensemble,
        _ => return None,
    })
}

/// `(N, F)` of a `[N, F]` or `[F]` input.
fn rows(b: &Builder, ctx: &NodeCtx, x: ValueId) -> Result<(usize, usize)> {
    match *b.shape(x) {
        [n, f] => Ok((n, f)),
        [f] => Ok((1, f)),
        ref s => Err(ctx.shape_err(format!("expected a [N, F] input, got {s:?}"))),
    }
}

fn floats(ctx: &NodeCtx, key: &str) -> Option<Vec<f64>> {
    ctx.attrs().floats(key).map(|v| v.into_iter().map(f64::from).collect())
}

fn required_floats(ctx: &NodeCtx, key: &str) -> Result<Vec<f64>> {
    floats(ctx, key).ok_or_else(|| ctx.attrs().err(key, "required attribute missing"))
}

fn required_ints(ctx: &NodeCtx, key: &str) -> Result<Vec<i64>> {
    ctx.attrs().ints(key).ok_or_else(|| ctx.attrs().err(key, "required attribute missing"))
}

/// Integer class labels; string labels are a clear error.
fn int_labels(ctx: &NodeCtx, ints_key: &str, strings_key: &str) -> Result<Option<Vec<i64>>> {
    if ctx.attrs().strings(strings_key).is_some_and(|s| !s.is_empty()) {
        return Err(ctx.attrs().err(
            strings_key,
            "string class labels are not supported (the label output would be a string tensor); \
             train on integer labels (e.g. LabelEncoder) and re-export",
        ));
    }
    Ok(ctx.attrs().ints(ints_key).filter(|v| !v.is_empty()))
}

/// `out[i, j] = bias[j] + Σ_k w[j·f + k]·x[i, k]`, shape `[n, c]`.
#[allow(clippy::too_many_arguments)]
fn dense(
    b: &mut Builder,
    ctx: &NodeCtx,
    name: &str,
    x: ValueId,
    (n, f): (usize, usize),
    w: &[f64],
    bias: &[f64],
    c: usize,
) -> Result<ValueId> {
    let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
    for i in 0..n {
        for j in 0..c {
            for k in 0..f {
                let wk = w[j * f + k];
                if wk != 0.0 {
                    aff.cols.push((i * f + k) as u32);
                    aff.weights.push(wk);
                }
            }
            aff.row_ptr.push(aff.cols.len() as u32);
            aff.bias.push(bias.get(j).copied().unwrap_or(0.0));
        }
    }
    b.push(ctx, name, FOp::Affine(aff), vec![x], vec![n, c])
}

/// Softmax along the last axis of `[n, c]`.
fn softmax_rows(b: &mut Builder, ctx: &NodeCtx, x: ValueId) -> Result<ValueId> {
    let shape = b.shape(x).to_vec();
    let m = reduce_max(b, ctx, &ctx.sub("softmax/max"), x, &[1])?;
    let d = weighted_sum(b, ctx, &ctx.sub("softmax/shifted"), x, 1.0, m, -1.0, shape.clone())?;
    let e = func(b, ctx, &ctx.sub("softmax/exp"), d, Func::Exp)?;
    let s = reduce_sum(b, ctx, &ctx.sub("softmax/sum"), e, &[1], false)?;
    let r = func(b, ctx, &ctx.sub("softmax/reciprocal"), s, Func::Reciprocal)?;
    product(b, ctx, &ctx.sub("softmax"), e, r, shape)
}

fn post_transform_name(ctx: &NodeCtx) -> String {
    ctx.attrs().string("post_transform").unwrap_or_else(|| "NONE".into())
}

fn post_transform(b: &mut Builder, ctx: &NodeCtx, s: ValueId) -> Result<ValueId> {
    match post_transform_name(ctx).as_str() {
        "NONE" => Ok(s),
        "LOGISTIC" => func(b, ctx, &ctx.sub("logistic"), s, Func::Sigmoid),
        "SOFTMAX" => softmax_rows(b, ctx, s),
        other => {
            Err(ctx.attrs().err("post_transform", format!("{other} is not supported (NONE, LOGISTIC, SOFTMAX are)")))
        }
    }
}

/// Index of the first maximum along the last axis of `[n, c]`: `[n]`.
fn arg_max_rows(b: &mut Builder, ctx: &NodeCtx, x: ValueId) -> Result<ValueId> {
    let (n, c) = (b.shape(x)[0], b.shape(x)[1]);
    let windows = || {
        let mut w = Windows { row_ptr: vec![0], cols: vec![] };
        for i in 0..n {
            w.cols.extend((0..c).map(|j| (i * c + j) as u32));
            w.row_ptr.push(w.cols.len() as u32);
        }
        w
    };
    let m = b.push(ctx, &ctx.sub("argmax/max"), FOp::Max(windows()), vec![x], vec![n, 1])?;
    let d = weighted_sum(b, ctx, &ctx.sub("argmax/minus_max"), x, 1.0, m, -1.0, vec![n, c])?;
    let e = b.push(ctx, &ctx.sub("argmax/is_max"), FOp::Step { or_equal: true }, vec![d], vec![n, c])?;
    let weights: Vec<f64> = (0..n * c).map(|f| (c - f % c) as f64).collect();
    let g = combine(b, ctx, &ctx.sub("argmax/rank"), &[(e, &weights)], &[0.0])?;
    let gm = b.push(ctx, &ctx.sub("argmax/best"), FOp::Max(windows()), vec![g], vec![n])?;
    scale_shift(b, ctx, &ctx.sub("argmax"), gm, -1.0, c as f64)
}

/// Class labels of class indices `idx` (`[n]`, values `0..labels.len()`).
fn labels_of(b: &mut Builder, ctx: &NodeCtx, idx: ValueId, labels: &[i64]) -> Result<ValueId> {
    let l: Vec<f64> = labels.iter().map(|&v| v as f64).collect();
    if l.len() < 2 {
        return scale_shift(b, ctx, &ctx.sub("label"), idx, 0.0, l.first().copied().unwrap_or(0.0));
    }
    let step = l[1] - l[0];
    if l.windows(2).all(|w| w[1] - w[0] == step) {
        return scale_shift(b, ctx, &ctx.sub("label"), idx, step, l[0]);
    }
    // label = l0 + Σ_{j>=1} (l_j - l_{j-1})·[idx - j + ½ > 0].
    let n = b.shape(idx).to_vec();
    let mut terms = vec![];
    for j in 1..l.len() {
        let d = scale_shift(b, ctx, &ctx.sub(&format!("label/ge{j}_diff")), idx, 1.0, 0.5 - j as f64)?;
        let s = b.push(ctx, &ctx.sub(&format!("label/ge{j}")), FOp::Step { or_equal: false }, vec![d], n.clone())?;
        terms.push((s, vec![l[j] - l[j - 1]]));
    }
    let t: Vec<(ValueId, &[f64])> = terms.iter().map(|(v, w)| (*v, w.as_slice())).collect();
    combine(b, ctx, &ctx.sub("label"), &t, &[l[0]])
}

/// Two score columns from one (`[n, 1]` → `[n, 2]`): `[w0·s + c0, s]`.
fn second_class(b: &mut Builder, ctx: &NodeCtx, s: ValueId, w0: f64, c0: f64) -> Result<ValueId> {
    let n = b.shape(s)[0];
    let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
    for i in 0..n {
        for (w, c) in [(w0, c0), (1.0, 0.0)] {
            aff.cols.push(i as u32);
            aff.weights.push(w);
            aff.row_ptr.push(aff.cols.len() as u32);
            aff.bias.push(c);
        }
    }
    b.push(ctx, &ctx.sub("scores"), FOp::Affine(aff), vec![s], vec![n, 2])
}

/// `[s - t > 0]` as a label in `{l0, l1}`, `s` `[n, 1]` → `[n]`.
fn binary_label(b: &mut Builder, ctx: &NodeCtx, s: ValueId, t: f64, labels: &[i64]) -> Result<ValueId> {
    let n = b.shape(s)[0];
    let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
    for i in 0..n {
        aff.cols.push(i as u32);
        aff.weights.push(1.0);
        aff.row_ptr.push(aff.cols.len() as u32);
        aff.bias.push(-t);
    }
    let d = b.push(ctx, &ctx.sub("label/diff"), FOp::Affine(aff), vec![s], vec![n])?;
    let p = b.push(ctx, &ctx.sub("label/positive"), FOp::Step { or_equal: false }, vec![d], vec![n])?;
    let (l0, l1) = (labels[0] as f64, labels[1] as f64);
    scale_shift(b, ctx, &ctx.sub("label"), p, l1 - l0, l0)
}

/// How onnxruntime turns one score column `s` into two: the label is
/// `[s > threshold]`; with post transform NONE the columns are
/// `[w0·s + c0, s]`, with LOGISTIC `[1 - σ(s), σ(s)]`.
struct Binary {
    threshold: f64,
    none: (f64, f64),
}

/// Scores `[n, 1]` of a binary model → `(label, [n, 2] scores)` the way
/// onnxruntime writes them.
fn binary_outputs(b: &mut Builder, ctx: &NodeCtx, s: ValueId, labels: &[i64], form: Binary) -> Result<Vec<ValueId>> {
    let pt = post_transform_name(ctx);
    let label = binary_label(b, ctx, s, form.threshold, labels)?;
    let scores = match pt.as_str() {
        "NONE" => second_class(b, ctx, s, form.none.0, form.none.1)?,
        "LOGISTIC" => {
            let p = func(b, ctx, &ctx.sub("logistic"), s, Func::Sigmoid)?;
            second_class(b, ctx, p, -1.0, 1.0)?
        }
        other => {
            return Err(ctx.attrs().err(
                "post_transform",
                format!("{other} is not supported for a binary model with one score column (NONE, LOGISTIC are)"),
            ))
        }
    };
    Ok(vec![label, scores])
}
