//! Elementwise functions by lookup, one element per row: `(tag, x, f(x))`
//! must be a row of the fixed table, with `x` in `x[0]` (copied from the
//! input), `f(x)` in `acc` (the output cell) and the table's tag in `bias`.
//! The lookup is the range chip's first one, enabled by the `func` selector
//! (see `chips::range::configure`). An input outside the table's domain, or
//! any other output, has no matching table row.

use crate::{
    layout::{Cells, Ctx},
    TamperTarget,
};

pub fn assign(ctx: &mut Ctx<'_, '_>, node: usize, tag: u64, src: &Cells, xv: &[i64], out: &[i64]) -> Cells {
    // Limb layout: the first limb lookup, which also reads x[3], x[4]; gas
    // layout: its own lookup over x[0], acc, bias.
    let limbs = ctx.sel.range.is_some();
    let func = match (&ctx.sel.range, &ctx.sel.bits) {
        (Some(r), _) => r.func,
        (None, Some(b)) => b.func,
        (None, None) => None,
    }
    .expect("the shape enables function tables when the program has them");
    let cols = ctx.cols;
    (0..xv.len())
        .map(|e| {
            let row = ctx.next_row();
            ctx.enable(func, row);
            ctx.fixed(cols.bias, row, tag as i64);
            let src = src[e].unwrap_or(ctx.zero);
            ctx.copy(cols.x[0], row, xv[e], src);
            if limbs {
                // Cells the shared lookup reads on every row, times the
                // range selector (off here).
                ctx.pad(cols.x[3], row);
                ctx.pad(cols.x[4], row);
            }
            let v = ctx.tampered(node, e, TamperTarget::Output, out[e]);
            Some(ctx.advice(cols.acc, row, v))
        })
        .collect()
}
