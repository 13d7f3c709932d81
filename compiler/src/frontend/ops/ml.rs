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

/// The trees of a TreeEnsemble* node.
struct Trees {
    /// Internal nodes: `(feature, threshold, mode)`; leaves are `None`.
    nodes: Vec<Option<(usize, f64, Mode)>>,
    /// Children `(true, false)` of internal nodes, as indices into `nodes`.
    children: Vec<(usize, usize)>,
    /// Root indices, one per tree.
    roots: Vec<usize>,
    /// `(tree id, node id)` → index.
    index: HashMap<(i64, i64), usize>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
}

fn read_trees(ctx: &NodeCtx, f: usize) -> Result<Trees> {
    let a = ctx.attrs();
    let tree_ids = required_ints(ctx, "nodes_treeids")?;
    let node_ids = required_ints(ctx, "nodes_nodeids")?;
    let features = required_ints(ctx, "nodes_featureids")?;
    let values = match floats(ctx, "nodes_values") {
        Some(v) => v,
        None => match a.tensor("nodes_values_as_tensor")? {
            Some(t) => t.to_f64(),
            None => return Err(a.err("nodes_values", "required attribute missing")),
        },
    };
    let modes = a.strings("nodes_modes").ok_or_else(|| a.err("nodes_modes", "required attribute missing"))?;
    let t_ids = required_ints(ctx, "nodes_truenodeids")?;
    let f_ids = required_ints(ctx, "nodes_falsenodeids")?;
    let m = tree_ids.len();
    for (key, len) in [
        ("nodes_nodeids", node_ids.len()),
        ("nodes_featureids", features.len()),
        ("nodes_values", values.len()),
        ("nodes_modes", modes.len()),
        ("nodes_truenodeids", t_ids.len()),
        ("nodes_falsenodeids", f_ids.len()),
    ] {
        if len != m {
            return Err(a.err(key, format!("{len} values, nodes_treeids has {m}")));
        }
    }
    let mut index = HashMap::new();
    for k in 0..m {
        if index.insert((tree_ids[k], node_ids[k]), k).is_some() {
            return Err(a.err("nodes_nodeids", format!("node {} of tree {} appears twice", node_ids[k], tree_ids[k])));
        }
    }
    let mut nodes = Vec::with_capacity(m);
    let mut children = vec![(0, 0); m];
    let mut is_child = vec![false; m];
    for k in 0..m {
        let mode = match modes[k].as_str() {
            "LEAF" => {
                nodes.push(None);
                continue;
            }
            "BRANCH_LEQ" => Mode::Leq,
            "BRANCH_LT" => Mode::Lt,
            "BRANCH_GTE" => Mode::Gte,
            "BRANCH_GT" => Mode::Gt,
            other => {
                return Err(
                    a.err("nodes_modes", format!("{other} is not supported (BRANCH_LEQ/LT/GTE/GT and LEAF are)"))
                )
            }
        };
        let feat = usize::try_from(features[k]).ok().filter(|&i| i < f).ok_or_else(|| {
            a.err("nodes_featureids", format!("feature {} out of range for {f} features", features[k]))
        })?;
        let child = |id: i64| {
            index
                .get(&(tree_ids[k], id))
                .copied()
                .ok_or_else(|| a.err("nodes_truenodeids", format!("node {id} of tree {} does not exist", tree_ids[k])))
        };
        let (t, fl) = (child(t_ids[k])?, child(f_ids[k])?);
        if t <= k || fl <= k {
            // Exporters number children after parents; this also rules out cycles.
            return Err(a.err(
                "nodes_truenodeids",
                format!("node {} of tree {} has an earlier child", node_ids[k], tree_ids[k]),
            ));
        }
        if t == fl || is_child[t] || is_child[fl] {
            // A node with two parents would make a DAG (exponentially many paths).
            return Err(
                a.err("nodes_truenodeids", format!("node {} of tree {} shares a child", node_ids[k], tree_ids[k]))
            );
        }
        children[k] = (t, fl);
        is_child[t] = true;
        is_child[fl] = true;
        nodes.push(Some((feat, values[k], mode)));
    }
    let roots = (0..m).filter(|&k| !is_child[k]).collect();
    Ok(Trees { nodes, children, roots, index })
}

/// Leaf indicators `[n, L]` and the leaf node index of each column.
fn leaf_indicators(
    b: &mut Builder,
    ctx: &NodeCtx,
    x: ValueId,
    (n, f): (usize, usize),
    t: &Trees,
) -> Result<(ValueId, Vec<usize>)> {
    // Conditions, split by Step kind: or_equal (LEQ, GTE) and strict (LT, GT).
    let internal: Vec<usize> = (0..t.nodes.len()).filter(|&k| t.nodes[k].is_some()).collect();
    let mut col = vec![(0usize, 0usize); t.nodes.len()]; // (group, column)
    let mut groups: [Vec<usize>; 2] = [vec![], vec![]];
    for &k in &internal {
        let (_, _, mode) = t.nodes[k].unwrap_or((0, 0.0, Mode::Leq));
        let g = usize::from(matches!(mode, Mode::Lt | Mode::Gt));
        col[k] = (g, groups[g].len());
        groups[g].push(k);
    }
    let mut cond: Vec<Option<ValueId>> = vec![None, None];
    for g in 0..2 {
        let ks = &groups[g];
        if ks.is_empty() {
            continue;
        }
        let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
        for i in 0..n {
            for &k in ks {
                let (feat, thr, mode) = t.nodes[k].unwrap_or((0, 0.0, Mode::Leq));
                // LEQ/LT: thr - x; GTE/GT: x - thr.
                let sign = if matches!(mode, Mode::Leq | Mode::Lt) { -1.0 } else { 1.0 };
                aff.cols.push((i * f + feat) as u32);
                aff.weights.push(sign);
                aff.row_ptr.push(aff.cols.len() as u32);
                aff.bias.push(-sign * thr);
            }
        }
        let name = if g == 0 { "conditions_inclusive" } else { "conditions_strict" };
        let d = b.push(ctx, &ctx.sub(&format!("{name}/diff")), FOp::Affine(aff), vec![x], vec![n, ks.len()])?;
        cond[g] = Some(b.push(ctx, &ctx.sub(name), FOp::Step { or_equal: g == 0 }, vec![d], vec![n, ks.len()])?);
    }
    // Paths to leaves.
    let mut leaves: Vec<(usize, Vec<(usize, bool)>)> = vec![];
    for &r in &t.roots {
        let mut stack = vec![(r, vec![])];
        while let Some((k, path)) = stack.pop() {
            match t.nodes[k] {
                None => leaves.push((k, path)),
                Some(_) => {
                    let (tc, fc) = t.children[k];
                    let mut p1: Vec<(usize, bool)> = path.clone();
                    p1.push((k, true));
                    let mut p2 = path;
                    p2.push((k, false));
                    stack.push((fc, p2));
                    stack.push((tc, p1));
                }
            }
        }
    }
    let inputs: Vec<ValueId> = cond.iter().flatten().copied().collect();
    let base = |g: usize| -> usize {
        // Offset of group g in the concatenated inputs.
        if g == 1 && cond[0].is_some() {
            n * groups[0].len()
        } else {
            0
        }
    };
    let l = leaves.len();
    let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
    for i in 0..n {
        for (_, path) in &leaves {
            let mut bias = 0.5 - path.len() as f64;
            for &(k, branch) in path {
                let (g, c) = col[k];
                aff.cols.push((base(g) + i * groups[g].len() + c) as u32);
                aff.weights.push(if branch { 1.0 } else { -1.0 });
                if !branch {
                    bias += 1.0;
                }
            }
            aff.row_ptr.push(aff.cols.len() as u32);
            aff.bias.push(bias);
        }
    }
    if inputs.is_empty() {
        return Err(ctx.shape_err("the ensemble has no internal nodes (a constant model)"));
    }
    let s = b.push(ctx, &ctx.sub("leaf_paths"), FOp::Affine(aff), inputs, vec![n, l])?;
    let ind = b.push(ctx, &ctx.sub("leaves"), FOp::Step { or_equal: false }, vec![s], vec![n, l])?;
    Ok((ind, leaves.into_iter().map(|(k, _)| k).collect()))
}

/// `out[i, c] = base[c] + scale·Σ_l w[l][c]·ind[i, l]`.
fn leaf_sum(
    b: &mut Builder,
    ctx: &NodeCtx,
    ind: ValueId,
    leaf_weights: &[LeafWeights],
    base: &[f64],
    k: usize,
    scale: f64,
) -> Result<ValueId> {
    let (n, l) = (b.shape(ind)[0], b.shape(ind)[1]);
    let mut per_class: Vec<Vec<(usize, f64)>> = vec![vec![]; k];
    for (j, ws) in leaf_weights.iter().enumerate() {
        for &(c, w) in ws {
            per_class[c].push((j, w * scale));
        }
    }
    let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
    for i in 0..n {
        for (c, ws) in per_class.iter().enumerate() {
            let mut acc: HashMap<usize, f64> = HashMap::new();
            for &(j, w) in ws {
                *acc.entry(j).or_default() += w;
            }
            let mut v: Vec<(usize, f64)> = acc.into_iter().filter(|&(_, w)| w != 0.0).collect();
            v.sort_by_key(|&(j, _)| j);
            for (j, w) in v {
                aff.cols.push((i * l + j) as u32);
                aff.weights.push(w);
            }
            aff.row_ptr.push(aff.cols.len() as u32);
            aff.bias.push(base.get(c).copied().unwrap_or(0.0));
        }
    }
    b.push(ctx, &ctx.sub("raw_scores"), FOp::Affine(aff), vec![ind], vec![n, k])
}

/// One leaf's `(class or target, weight)` pairs.
type LeafWeights = Vec<(usize, f64)>;

/// Per-leaf weights `(target, weight)` from the `<prefix>_treeids/nodeids/ids/weights` attributes.
fn leaf_weights(ctx: &NodeCtx, t: &Trees, leaves: &[usize], prefix: &str) -> Result<(Vec<LeafWeights>, usize)> {
    let a = ctx.attrs();
    let key = |s: &str| format!("{prefix}_{s}");
    let trees = required_ints(ctx, &key("treeids"))?;
    let nodes = required_ints(ctx, &key("nodeids"))?;
    let ids = required_ints(ctx, &key("ids"))?;
    let weights = required_floats(ctx, &key("weights"))?;
    if nodes.len() != trees.len() || ids.len() != trees.len() || weights.len() != trees.len() {
        return Err(a.err(&key("weights"), "the weight attributes differ in length"));
    }
    let mut slot: HashMap<usize, usize> = HashMap::new();
    for (j, &k) in leaves.iter().enumerate() {
        slot.insert(k, j);
    }
    let mut out = vec![vec![]; leaves.len()];
    let mut k_max = 0;
    for e in 0..trees.len() {
        let node = t
            .index
            .get(&(trees[e], nodes[e]))
            .ok_or_else(|| a.err(&key("nodeids"), format!("node {} of tree {} does not exist", nodes[e], trees[e])))?;
        let j = *slot.get(node).ok_or_else(|| {
            a.err(&key("nodeids"), format!("node {} of tree {} is not a reachable leaf", nodes[e], trees[e]))
        })?;
        let c = usize::try_from(ids[e]).map_err(|_| a.err(&key("ids"), format!("negative id {}", ids[e])))?;
        if c > 4096 {
            return Err(a.err(&key("ids"), format!("id {c} is too large")));
        }
        k_max = k_max.max(c + 1);
        out[j].push((c, weights[e]));
    }
    Ok((out, k_max))
}

pub fn tree_classifier(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let (n, f) = rows(b, ctx, x)?;
    let labels = int_labels(ctx, "classlabels_int64s", "classlabels_strings")?
        .ok_or_else(|| ctx.attrs().err("classlabels_int64s", "required attribute missing"))?;
    let t = read_trees(ctx, f)?;
    let (ind, leaves) = leaf_indicators(b, ctx, x, (n, f), &t)?;
    let (w, used) = leaf_weights(ctx, &t, &leaves, "class")?;
    let base = floats(ctx, "base_values").unwrap_or_default();
    let c = labels.len();
    if used > c {
        return Err(ctx.attrs().err("class_ids", format!("class id {} for {c} class labels", used - 1)));
    }
    let binary = c == 2 && w.iter().flatten().all(|&(k, _)| k == 0);
    if binary {
        if base.len() > 1 {
            return Err(ctx.attrs().err("base_values", "two base values with one score column are not supported"));
        }
        // Leaf weights that are all >= 0 are probabilities: [1 - p, p], label [p > ½].
        let positive = w.iter().flatten().all(|&(_, v)| v >= 0.0);
        let form = if positive {
            Binary { threshold: 0.5, none: (-1.0, 1.0) }
        } else {
            Binary { threshold: 0.0, none: (-1.0, 0.0) }
        };
        let s = leaf_sum(b, ctx, ind, &w, &base, 1, 1.0)?;
        return binary_outputs(b, ctx, s, &labels, form);
    }
    if !base.is_empty() && base.len() != c {
        return Err(ctx.attrs().err("base_values", format!("{} values for {c} classes", base.len())));
    }
    let s = leaf_sum(b, ctx, ind, &w, &base, c, 1.0)?;
    let idx = arg_max_rows(b, ctx, s)?;
    let label = labels_of(b, ctx, idx, &labels)?;
    let scores = post_transform(b, ctx, s)?;
    Ok(vec![label, scores])
}

pub fn tree_regressor(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let (n, f) = rows(b, ctx, x)?;
    let t = read_trees(ctx, f)?;
    let (ind, leaves) = leaf_indicators(b, ctx, x, (n, f), &t)?;
    let (w, used) = leaf_weights(ctx, &t, &leaves, "target")?;
    let targets = ctx.attrs().int_or("n_targets", used as i64).max(1) as usize;
    if used > targets {
        return Err(ctx.attrs().err("target_ids", format!("target id {} for n_targets {targets}", used - 1)));
    }
    let scale = match ctx.attrs().string("aggregate_function").as_deref().unwrap_or("SUM") {
        "SUM" => 1.0,
        "AVERAGE" => 1.0 / t.roots.len().max(1) as f64,
        other => {
            return Err(ctx.attrs().err("aggregate_function", format!("{other} is not supported (SUM, AVERAGE are)")))
        }
    };
    let base = floats(ctx, "base_values").unwrap_or_default();
    let s = leaf_sum(b, ctx, ind, &w, &base, targets, scale)?;
    Ok(vec![post_transform(b, ctx, s)?])
}

/// An integer-or-float tensor attribute (opset-5 TreeEnsemble).
fn tensor_attr(ctx: &NodeCtx, key: &str) -> Result<Vec<f64>> {
    match ctx.attrs().tensor(key)? {
        Some(t) => Ok(t.to_f64()),
        None => Err(ctx.attrs().err(key, "required attribute missing")),
    }
}

/// `TreeEnsemble` (ai.onnx.ml opset 5): output `[N, n_targets]`.
pub fn tree_ensemble(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let a = ctx.attrs();
    let x = ctx.input(0)?;
    let (n, f) = rows(b, ctx, x)?;
    let features = required_ints(ctx, "nodes_featureids")?;
    let splits = tensor_attr(ctx, "nodes_splits")?;
    let modes = tensor_attr(ctx, "nodes_modes")?;
    let t_ids = required_ints(ctx, "nodes_truenodeids")?;
    let f_ids = required_ints(ctx, "nodes_falsenodeids")?;
    let t_leaf = required_ints(ctx, "nodes_trueleafs")?;
    let f_leaf = required_ints(ctx, "nodes_falseleafs")?;
    let roots = required_ints(ctx, "tree_roots")?;
    let leaf_targets = required_ints(ctx, "leaf_targetids")?;
    let leaf_w = tensor_attr(ctx, "leaf_weights")?;
    let m = features.len();
    for (key, len) in [
        ("nodes_splits", splits.len()),
        ("nodes_modes", modes.len()),
        ("nodes_truenodeids", t_ids.len()),
        ("nodes_falsenodeids", f_ids.len()),
        ("nodes_trueleafs", t_leaf.len()),
        ("nodes_falseleafs", f_leaf.len()),
    ] {
        if len != m {
            return Err(a.err(key, format!("{len} values, nodes_featureids has {m}")));
        }
    }
    if leaf_w.len() != leaf_targets.len() {
        return Err(a.err("leaf_weights", format!("{} values for {} leaf_targetids", leaf_w.len(), leaf_targets.len())));
    }
    // Internal nodes 0..m, leaves m + j.
    let l = leaf_targets.len();
    let mut nodes: Vec<Option<(usize, f64, Mode)>> = Vec::with_capacity(m + l);
    let mut children = vec![(0, 0); m + l];
    let mut is_child = vec![false; m + l];
    for k in 0..m {
        let mode = match modes[k] as i64 {
            0 => Mode::Leq,
            1 => Mode::Lt,
            2 => Mode::Gte,
            3 => Mode::Gt,
            other => {
                return Err(a.err("nodes_modes", format!("mode {other} (EQ/NEQ/MEMBER) is not supported (0-3 are)")))
            }
        };
        let feat = usize::try_from(features[k]).ok().filter(|&i| i < f).ok_or_else(|| {
            a.err("nodes_featureids", format!("feature {} out of range for {f} features", features[k]))
        })?;
        let child = |id: i64, leaf: i64, key: &str| -> Result<usize> {
            let (limit, off) = if leaf != 0 { (l, m) } else { (m, 0) };
            let i = usize::try_from(id)
                .ok()
                .filter(|&i| i < limit)
                .ok_or_else(|| a.err(key, format!("child {id} of node {k} does not exist")))?;
            if leaf == 0 && i <= k {
                return Err(a.err(key, format!("node {k} has an earlier child {i}")));
            }
            Ok(off + i)
        };
        let (tc, fc) =
            (child(t_ids[k], t_leaf[k], "nodes_truenodeids")?, child(f_ids[k], f_leaf[k], "nodes_falsenodeids")?);
        if tc == fc || is_child[tc] || is_child[fc] {
            // A node or leaf with two parents would make a DAG (exponentially many paths).
            return Err(a.err("nodes_truenodeids", format!("node {k} shares a child")));
        }
        is_child[tc] = true;
        is_child[fc] = true;
        children[k] = (tc, fc);
        nodes.push(Some((feat, splits[k], mode)));
    }
    nodes.extend(std::iter::repeat_n(None, l));
    let roots = roots
        .iter()
        .map(|&r| {
            usize::try_from(r)
                .ok()
                .filter(|&r| r < m && !is_child[r])
                .ok_or_else(|| a.err("tree_roots", format!("root {r} does not exist or is another node's child")))
        })
        .collect::<Result<Vec<_>>>()?;
    let t = Trees { nodes, children, roots, index: HashMap::new() };
    let (ind, leaves) = leaf_indicators(b, ctx, x, (n, f), &t)?;
    let targets = usize::try_from(a.int_or("n_targets", 1)).unwrap_or(0).max(1);
    let mut w: Vec<LeafWeights> = vec![vec![]; leaves.len()];
    for (j, &k) in leaves.iter().enumerate() {
        let e = k - m;
        let c = usize::try_from(leaf_targets[e]).ok().filter(|&c| c < targets).ok_or_else(|| {
            a.err("leaf_targetids", format!("target {} out of range for n_targets {targets}", leaf_targets[e]))
        })?;
        w[j].push((c, leaf_w[e]));
    }
    let scale = match a.int_or("aggregate_function", 1) {
        1 => 1.0,
        0 => 1.0 / t.roots.len().max(1) as f64,
        other => {
            return Err(a.err("aggregate_function", format!("{other} (MIN/MAX) is not supported (SUM, AVERAGE are)")))
        }
    };
    let s = leaf_sum(b, ctx, ind, &w, &[], targets, scale)?;
    match a.int_or("post_transform", 0) {
        0 => Ok(vec![s]),
        1 => Ok(vec![softmax_rows(b, ctx, s)?]),
        2 => Ok(vec![func(b, ctx, &ctx.sub("logistic"), s, Func::Sigmoid)?]),
        other => Err(a.err("post_transform", format!("{other} (SOFTMAX_ZERO/PROBIT) is not supported"))),
    }
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
