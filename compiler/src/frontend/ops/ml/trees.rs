//! Tree ensembles: `TreeEnsembleClassifier`, `TreeEnsembleRegressor` and
//! opset 5 `TreeEnsemble` (see the module docs of `ml`).

use super::*;

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
    // `k` (classes or targets) comes from the file: bound it before allocating.
    if let Err(why) = crate::frontend::tensor::checked_elements(&[n, k]) {
        return Err(ctx.shape_err(format!("{k} classes or targets: the output {why}")));
    }
    let mut per_class: Vec<Vec<(usize, f64)>> = vec![vec![]; k];
    for (j, ws) in leaf_weights.iter().enumerate() {
        for &(c, w) in ws {
            let Some(list) = per_class.get_mut(c) else {
                return Err(ctx.shape_err(format!("leaf weight for class {c} of {k}")));
            };
            list.push((j, w * scale));
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
