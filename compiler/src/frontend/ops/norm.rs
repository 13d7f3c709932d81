//! BatchNormalization (inference form) as a per-channel affine map; the
//! `fold_batchnorm` pass folds it into a preceding Conv/Gemm/MatMul.

use crate::error::Result;
use crate::frontend::graph::{Affine, FOp, ValueId};
use crate::frontend::index::numel;
use crate::frontend::{Builder, NodeCtx};

pub fn batch_norm(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    if ctx.attrs().int_or("training_mode", 0) != 0 {
        return Err(ctx.unsupported());
    }
    let s = b.shape(x).to_vec();
    if s.len() < 2 {
        return Err(ctx.shape_err(format!("expected [N, C, ...], got {s:?}")));
    }
    let c = s[1];
    let mut params = Vec::with_capacity(4);
    for i in 1..5 {
        let v = ctx.input(i)?;
        let t = b.konst(v).ok_or_else(|| ctx.unsupported())?;
        if t.len() != c {
            return Err(ctx.shape_err(format!("parameter {i} has {} values, expected {c}", t.len())));
        }
        params.push(t.to_f64());
    }
    let eps = ctx.attrs().float_or("epsilon", 1e-5);
    let (gamma, beta, mean, var) = (&params[0], &params[1], &params[2], &params[3]);
    let w: Vec<f64> = (0..c).map(|k| gamma[k] / (var[k] + eps).sqrt()).collect();
    if w.iter().any(|v| !v.is_finite()) {
        return Err(ctx.shape_err("variance + epsilon is not positive"));
    }
    let sh: Vec<f64> = (0..c).map(|k| beta[k] - mean[k] * w[k]).collect();
    let inner = numel(&s[2..]);
    let n = numel(&s);
    let ch = |o: usize| (o / inner.max(1)) % c;
    let aff = Affine {
        row_ptr: (0..=n as u32).collect(),
        cols: (0..n as u32).collect(),
        weights: (0..n).map(|o| w[ch(o)]).collect(),
        bias: (0..n).map(|o| sh[ch(o)]).collect(),
    };
    Ok(vec![b.push(ctx, &ctx.name, FOp::Affine(aff), vec![x], s)?])
}
