//! Sums of products of two activations, `lanes` products per row:
//! `acc = cont * acc[-1] + sum_i x_i * b_i`. Covers Mul and MatMul between
//! activations.

use halo2_proofs::{
    plonk::{ConstraintSystem, Expression, Selector},
    poly::Rotation,
};
use ir::BilinearOp;

use crate::{
    columns::Columns,
    field::Fr,
    layout::{Cells, Ctx},
};

pub fn configure(meta: &mut ConstraintSystem<Fr>, c: &Columns) -> Selector {
    configure_over(meta, c, &c.b, "bilinear: acc = cont*acc_prev + sum x*b")
}

/// The same gate with `b` replaced by `right` (the committed weight columns
/// of `chips::param_linear` under `--param-visibility polycommit`).
pub fn configure_over(
    meta: &mut ConstraintSystem<Fr>,
    c: &Columns,
    right: &[halo2_proofs::plonk::Column<halo2_proofs::plonk::Advice>],
    name: &'static str,
) -> Selector {
    let q = meta.selector();
    meta.create_gate(name, |m| {
        let q = m.query_selector(q);
        let acc = m.query_advice(c.acc, Rotation::cur());
        let prev = m.query_advice(c.acc, Rotation::prev());
        let cont = m.query_fixed(c.cont, Rotation::cur());
        let sum = c.x.iter().zip(right).fold(Expression::Constant(Fr::zero()), |s, (x, b)| {
            s + m.query_advice(*x, Rotation::cur()) * m.query_advice(*b, Rotation::cur())
        });
        vec![q * (acc - cont * prev - sum)]
    });
    q
}

pub fn rows(
    op: &BilinearOp,
    lanes: usize,
    is_zero_a: impl Fn(usize) -> bool,
    is_zero_b: impl Fn(usize) -> bool,
) -> usize {
    (0..op.outputs())
        .map(|o| {
            let n =
                op.row(o).filter(|&t| !is_zero_a(op.pairs[t].0 as usize) && !is_zero_b(op.pairs[t].1 as usize)).count();
            n.div_ceil(lanes).max(1)
        })
        .sum()
}

#[allow(clippy::too_many_arguments, clippy::needless_range_loop)] // o indexes bias, outputs and rows alike
pub fn assign(
    ctx: &mut Ctx<'_, '_>,
    node: usize,
    op: &BilinearOp,
    (a_cells, av): (&Cells, &[i64]),
    (b_cells, bv): (&Cells, &[i64]),
    out: &[i64],
) -> Cells {
    let lanes = ctx.cols.lanes();
    let sel = ctx.sel.bilinear.expect("bilinear columns are configured when the program has bilinear ops");
    let mut cells = Vec::with_capacity(op.outputs());
    for o in 0..op.outputs() {
        let terms: Vec<(usize, usize)> = op
            .row(o)
            .map(|t| (op.pairs[t].0 as usize, op.pairs[t].1 as usize))
            .filter(|&(i, j)| a_cells[i].is_some() && b_cells[j].is_some())
            .collect();
        let chunks: Vec<&[(usize, usize)]> = if terms.is_empty() { vec![&[]] } else { terms.chunks(lanes).collect() };
        let mut acc = 0i64;
        let mut last = None;
        for (ci, chunk) in chunks.iter().enumerate() {
            let row = ctx.next_row();
            ctx.enable(sel, row);
            ctx.fixed(ctx.cols.cont, row, if ci == 0 { 0 } else { 1 });
            for lane in 0..lanes {
                let (xc, bc) = (ctx.cols.x[lane], ctx.cols.b[lane]);
                match chunk.get(lane) {
                    Some(&(i, j)) => {
                        ctx.copy(xc, row, av[i], a_cells[i].expect("filtered"));
                        ctx.copy(bc, row, bv[j], b_cells[j].expect("filtered"));
                        acc += av[i] * bv[j];
                    }
                    None => {
                        // An unused lane: x copied from the zero cell, so
                        // x * b = 0 whatever b holds (a free x and b would
                        // let a prover add any product to the sum).
                        let zero = ctx.zero;
                        ctx.copy(xc, row, 0, zero);
                        ctx.pad(bc, row);
                    }
                }
            }
            let v =
                if ci + 1 == chunks.len() { ctx.tampered(node, o, crate::TamperTarget::Output, out[o]) } else { acc };
            last = Some(ctx.advice(ctx.cols.acc, row, v));
        }
        cells.push(last);
    }
    cells
}
