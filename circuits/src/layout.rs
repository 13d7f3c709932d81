//! Places a whole program in one region, op by op: the one exhaustive
//! `match` from ir ops to chips, and the row accounting the planner uses.

use halo2_proofs::{
    circuit::{Cell, Region, Value},
    plonk::{Advice, Column, Error, Fixed, Selector},
};
use ir::{Activation, Op, Program, Trace};

#[cfg(any(test, feature = "tamper"))]
use crate::audit::Audit;
use crate::{
    chips::{self, bits::BitsLayout, Selectors},
    columns::Columns,
    field::{fe, Fr},
    TamperTarget,
};

/// A tensor's cells, flattened; `None` is the constant 0 (no cell).
pub type Cells = Vec<Option<Cell>>;

/// Row allocator and assignment helpers over the one region.
pub struct Ctx<'a, 'r> {
    pub region: &'a mut Region<'r, Fr>,
    pub cols: &'a Columns,
    pub sel: &'a Selectors,
    /// Limb width of range checks (the table covers widths 1..=limb_bits).
    pub limb_bits: u32,
    /// Activation range: `-2^range_bits <= q < 2^range_bits`.
    pub range_bits: u32,
    /// A cell constrained to the constant 0 (for padding fed to max, public zeros).
    pub zero: Cell,
    row: usize,
    witness: bool,
    /// Test hooks: the assignment counter and log, the tampers.
    #[cfg(any(test, feature = "tamper"))]
    audit: &'a Audit<'a>,
    error: Option<Error>,
}

impl<'a, 'r> Ctx<'a, 'r> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        region: &'a mut Region<'r, Fr>,
        cols: &'a Columns,
        sel: &'a Selectors,
        (limb_bits, range_bits): (u32, u32),
        zero: Cell,
        first_row: usize,
        witness: bool,
        #[cfg(any(test, feature = "tamper"))] audit: &'a Audit<'a>,
    ) -> Self {
        Ctx {
            region,
            cols,
            sel,
            limb_bits,
            range_bits,
            zero,
            row: first_row,
            witness,
            #[cfg(any(test, feature = "tamper"))]
            audit,
            error: None,
        }
    }

    /// The next free row.
    pub fn row(&self) -> usize {
        self.row
    }

    /// Whether values are known (proving) or not (key generation).
    pub fn witness(&self) -> bool {
        self.witness
    }

    /// Runs a gadget that lays out its own rows from the next free row and
    /// returns the row after its last (`chips::poseidon`).
    pub fn with_rows<T>(
        &mut self,
        f: impl FnOnce(&mut Region<'r, Fr>, usize, bool) -> Result<(T, usize), Error>,
    ) -> Option<T> {
        match f(self.region, self.row, self.witness) {
            Ok((t, next)) => {
                self.row = next;
                Some(t)
            }
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    pub fn next_row(&mut self) -> usize {
        self.row += 1;
        self.row - 1
    }

    pub fn enable(&mut self, sel: Selector, row: usize) {
        if let Err(e) = sel.enable(self.region, row) {
            self.error.get_or_insert(e);
        }
    }

    pub fn fixed(&mut self, col: Column<Fixed>, row: usize, v: i64) {
        self.region.assign_fixed(col, row, fe(v));
    }

    pub fn fixed_fe(&mut self, col: Column<Fixed>, row: usize, v: Fr) {
        self.region.assign_fixed(col, row, v);
    }

    pub fn advice(&mut self, col: Column<Advice>, row: usize, v: i64) -> Cell {
        self.assign(col, row, fe(v), false)
    }

    pub fn advice_fe(&mut self, col: Column<Advice>, row: usize, v: Fr) -> Cell {
        self.assign(col, row, v, false)
    }

    /// A padding cell: 0, which no enabled constraint may depend on (the
    /// soundness audit, `circuits/tests/audit.rs`, checks it and lists
    /// each padding class with the reason it is harmless).
    pub fn pad(&mut self, col: Column<Advice>, row: usize) -> Cell {
        self.assign(col, row, Fr::zero(), true)
    }

    /// A cell holding `v` that no enabled constraint reads (audited like
    /// padding): the committed weight columns' markers.
    pub fn unread(&mut self, col: Column<Advice>, row: usize, v: i64) -> Cell {
        self.assign(col, row, fe(v), true)
    }

    /// A cell constrained to the constant `v` (through the constants column).
    pub fn constant(&mut self, col: Column<Advice>, row: usize, v: Fr) -> Option<Cell> {
        let cell = self.assign(col, row, v, false);
        match self.region.constrain_constant(cell, v) {
            Ok(()) => Some(cell),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    /// Every advice assignment of the chips: through the audit hook in test
    /// builds (counted, logged, maybe tampered).
    #[inline(always)]
    fn assign(&mut self, col: Column<Advice>, row: usize, v: Fr, padding: bool) -> Cell {
        #[cfg(any(test, feature = "tamper"))]
        let v = self.audit.cell(self.cols, col, row, v, padding);
        #[cfg(not(any(test, feature = "tamper")))]
        let _ = padding;
        let value = if self.witness { Value::known(v) } else { Value::unknown() };
        self.region.assign_advice(col, row, value).cell()
    }

    /// Records which node (and op kind), or which part outside the nodes,
    /// is being laid out (test builds; nothing otherwise).
    #[inline(always)]
    pub fn site(&self, node: Option<usize>, class: &'static str) {
        #[cfg(any(test, feature = "tamper"))]
        self.audit.set_site(node, class);
        #[cfg(not(any(test, feature = "tamper")))]
        let _ = (node, class);
    }

    /// Hashes `msg` with the Poseidon chip from the next free row (message
    /// cells copied from `from`, where `Some`); (message cells, digest).
    pub fn poseidon(
        &mut self,
        cfg: &chips::poseidon::PoseidonConfig,
        msg: &[Fr],
        from: &[Option<Cell>],
    ) -> Option<(Vec<Cell>, Cell)> {
        #[cfg(any(test, feature = "tamper"))]
        let (audit, cols) = (self.audit, self.cols);
        self.with_rows(|region, row, witness| {
            #[cfg(any(test, feature = "tamper"))]
            let r = chips::poseidon::assign_hooked(cfg, region, row, msg, from, witness, |c, r, v, pad| {
                audit.cell(cols, cfg.advice[c], r, v, pad)
            });
            #[cfg(not(any(test, feature = "tamper")))]
            let r = chips::poseidon::assign(cfg, region, row, msg, from, witness);
            r.map(|(cells, digest, next)| ((cells, digest), next))
        })
    }

    /// Assigns `v` and constrains it equal to `src` (a copy through the permutation).
    pub fn copy(&mut self, col: Column<Advice>, row: usize, v: i64, src: Cell) -> Cell {
        let cell = self.advice(col, row, v);
        self.region.constrain_equal(cell, src);
        cell
    }

    /// `v` plus any test tampering registered for this cell (`v` itself
    /// without the `tamper` feature).
    #[cfg(not(any(test, feature = "tamper")))]
    #[inline(always)]
    pub fn tampered(&self, _node: usize, _element: usize, _target: TamperTarget, v: i64) -> i64 {
        v
    }

    /// `v` plus any test tampering registered for this cell.
    #[cfg(any(test, feature = "tamper"))]
    pub fn tampered(&self, node: usize, element: usize, target: TamperTarget, v: i64) -> i64 {
        v + self
            .audit
            .tamper()
            .iter()
            .filter(|t| t.node == node && t.element == element && t.target == target)
            .map(|t| t.delta)
            .sum::<i64>()
    }

    pub fn finish(self) -> Result<usize, Error> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.row),
        }
    }
}

/// The cell every constant 0 is copied from, and the first free row. Limb
/// layout: row 0 of `acc`, fixed by the constants column. Gas layout (no
/// constants column): row 1 is an empty dot-product row, `acc = 0*acc[-1] + 0`
/// (row 0, which that row reads, is a filler).
pub fn zero_cell(
    region: &mut Region<'_, Fr>,
    config: &crate::circuit::ModelConfig,
    witness: bool,
    #[cfg(any(test, feature = "tamper"))] audit: &Audit<'_>,
) -> Result<(Cell, usize), Error> {
    let cols = &config.cols;
    // A 0, through the audit hook in test builds (`padding`: see `Ctx::pad`).
    let zero = |region: &mut Region<'_, Fr>, col: Column<Advice>, row: usize, padding: bool| -> Cell {
        #[cfg(any(test, feature = "tamper"))]
        let v = audit.cell(cols, col, row, Fr::zero(), padding);
        #[cfg(not(any(test, feature = "tamper")))]
        let (v, _) = (Fr::zero(), padding);
        region.assign_advice(col, row, if witness { Value::known(v) } else { Value::unknown() }).cell()
    };
    if config.shape.bits.is_none() {
        let cell = zero(region, cols.acc, 0, false);
        region.constrain_constant(cell, Fr::zero())?;
        return Ok((cell, 1));
    }
    // Row 0: filler (row 1's gate reads acc[0] times cont = 0); row 1's
    // lanes have weight 0.
    for row in 0..2 {
        for c in cols.x.iter().chain(&cols.b) {
            zero(region, *c, row, true);
        }
    }
    zero(region, cols.acc, 0, true);
    config.sel.linear.enable(region, 1)?;
    let cell = zero(region, cols.acc, 1, false);
    Ok((cell, 2))
}

/// Cells of every node, and the cells of public instances in instance order.
pub struct Assigned {
    pub cells: Vec<Cells>,
    pub input_cells: Vec<Vec<Cell>>,
}

/// Lays out the witness parameters (`ir::ParamSet`) before the program:
/// hashed, each value is a message cell of the Poseidon sponge and the
/// digest is returned for the instance; private, plain cells, `lanes` per
/// row. Plus the constant 1 that parameter biases multiply.
pub fn assign_params(ctx: &mut Ctx<'_, '_>, program: &Program) -> (chips::param_linear::ParamCells, Option<Cell>) {
    let Some(ps) = &program.params else {
        return (chips::param_linear::ParamCells { cells: vec![], values: vec![], one: None }, None);
    };
    let hashed = ps.visibility == ir::Visibility::Hashed;
    let committed = ps.visibility == ir::Visibility::Polycommit;
    ctx.site(None, if hashed { "params hash" } else { "params" });
    let values: Vec<i64> =
        ps.values.iter().enumerate().map(|(k, &v)| ctx.tampered(k, 0, TamperTarget::Param, v)).collect();
    let (cells, digest) = if hashed {
        let cfg = ctx.sel.poseidon.clone().expect("hashed parameters configure Poseidon");
        let msg: Vec<Fr> = values.iter().map(|&v| fe(v)).collect();
        let none = vec![None; msg.len()];
        match ctx.poseidon(&cfg, &msg, &none) {
            Some((c, d)) => (c, Some(d)),
            None => (vec![], None),
        }
    } else if committed {
        // In the committed weight columns, where they are used
        // (`chips::param_linear`): no cells here; only each column's marker.
        ctx.site(None, "weight marker");
        for c in ctx.cols.pw.clone() {
            ctx.unread(c, crate::polycommit::MARKER_ROW, 1);
        }
        (vec![], None)
    } else {
        let lanes = ctx.cols.lanes();
        let mut cells = Vec::with_capacity(values.len());
        for chunk in values.chunks(lanes) {
            let row = ctx.next_row();
            for (lane, &v) in chunk.iter().enumerate() {
                cells.push(ctx.advice(ctx.cols.x[lane], row, v));
            }
        }
        (cells, None)
    };
    let one = needs_one(program).then(|| {
        ctx.site(None, "one");
        let row = ctx.next_row();
        ctx.constant(ctx.cols.x[0], row, Fr::one())
    });
    let one = one.flatten();
    // Keygen or a failed gadget: no cells; the error is reported by `finish`.
    let ok = committed || cells.len() == values.len();
    let cells = if ok && !committed { cells } else { vec![ctx.zero; values.len()] };
    (chips::param_linear::ParamCells { cells, values, one }, digest)
}

/// Hashes `values` (copies of `cells`, the constant 0 where `None`) with
/// Poseidon; the digest cell.
pub fn assign_hash(ctx: &mut Ctx<'_, '_>, cells: &[Option<Cell>], values: &[i64]) -> Option<Cell> {
    let cfg = ctx.sel.poseidon.clone().expect("hashed tensors configure Poseidon");
    let zero = ctx.zero;
    let msg: Vec<Fr> = values.iter().map(|&v| fe(v)).collect();
    let from: Vec<Option<Cell>> = cells.iter().map(|c| Some(c.unwrap_or(zero))).collect();
    ctx.poseidon(&cfg, &msg, &from).map(|(_, d)| d)
}

fn concat(cells: &[Cells], ids: &[usize]) -> Cells {
    ids.iter().flat_map(|&v| cells[v].iter().copied()).collect()
}

fn concat_vals(trace: &Trace, ids: &[usize]) -> Vec<i64> {
    ids.iter().flat_map(|&v| trace.values[v].iter().copied()).collect()
}

/// Lays out every node of `program` with the values of `trace`.
pub fn assign_program(
    ctx: &mut Ctx<'_, '_>,
    program: &Program,
    trace: &Trace,
    params: &chips::param_linear::ParamCells,
) -> Assigned {
    let mut cells: Vec<Cells> = Vec::with_capacity(program.nodes.len());
    let mut input_cells: Vec<Vec<Cell>> = vec![vec![]; program.inputs.len()];
    let functions = crate::table::function_tables(program);
    for (i, node) in program.nodes.iter().enumerate() {
        let out = &trace.values[i];
        ctx.site(Some(i), op_class(&node.op));
        let c = match &node.op {
            Op::Input { index } => {
                let mut ins = Vec::with_capacity(out.len());
                let outs = out
                    .iter()
                    .enumerate()
                    .map(|(e, &v)| {
                        let (xc, oc) = chips::requant::assign_one(ctx, (i, e), 0, Activation::Identity, v, None, v);
                        ins.push(xc);
                        Some(oc)
                    })
                    .collect();
                input_cells[*index] = ins;
                outs
            }
            Op::Linear(op) => {
                let src = concat(&cells, &op.inputs);
                let xv = concat_vals(trace, &op.inputs);
                match &op.params {
                    Some(refs) => chips::param_linear::assign(ctx, i, op, refs, params, &src, &xv, out),
                    None => chips::linear::assign(ctx, i, op, &src, &xv, out),
                }
            }
            Op::Bilinear(op) => chips::bilinear::assign(
                ctx,
                i,
                op,
                (&cells[op.a], &trace.values[op.a]),
                (&cells[op.b], &trace.values[op.b]),
                out,
            ),
            Op::Requant(op) => chips::requant::assign(ctx, i, op, &cells[op.input], &trace.values[op.input], out),
            Op::Max(op) => chips::max::assign(ctx, i, op, &cells[op.input], &trace.values[op.input], out),
            Op::Gather(op) => chips::gather::assign(op, &concat(&cells, &op.inputs)),
            Op::Table(op) => {
                let tag = crate::table::function_tag(&functions, op);
                chips::table::assign(ctx, i, tag, &cells[op.input], &trace.values[op.input], out)
            }
            Op::Div(op) => chips::div::assign(
                ctx,
                i,
                (&cells[op.num], &trace.values[op.num]),
                (&cells[op.den], &trace.values[op.den]),
                out,
            ),
        };
        cells.push(c);
    }
    Assigned { cells, input_cells }
}

/// The op kind of a node, as the soundness audit names its cells' class.
pub fn op_class(op: &Op) -> &'static str {
    match op {
        Op::Linear(l) if l.params.is_some() => "param_linear",
        op => op.kind(),
    }
}

/// Which elements of each node are the constant 0 (mirrors `assign_program`).
pub fn zero_masks(program: &Program) -> Vec<Vec<bool>> {
    let mut masks: Vec<Vec<bool>> = Vec::with_capacity(program.nodes.len());
    for node in &program.nodes {
        let m = match &node.op {
            Op::Gather(g) => {
                let src: Vec<bool> = g.inputs.iter().flat_map(|&v| masks[v].iter().copied()).collect();
                g.map.iter().map(|&c| c == ir::ZERO_SRC || src[c as usize]).collect()
            }
            Op::Requant(r) => masks[r.input].clone(),
            Op::Max(m) => (0..m.outputs())
                .map(|o| m.row(o).len() == 1 && masks[m.input][m.cols[m.row_ptr[o] as usize] as usize])
                .collect(),
            // Every other op assigns a cell per element.
            Op::Input { .. } | Op::Linear(_) | Op::Bilinear(_) | Op::Table(_) | Op::Div(_) => vec![false; node.len()],
        };
        masks.push(m);
    }
    masks
}

/// The largest requant shift of the program (0 without requants).
pub fn max_shift(program: &Program) -> u32 {
    program
        .nodes
        .iter()
        .filter_map(|n| if let Op::Requant(r) = &n.op { Some(r.shift) } else { None })
        .max()
        .unwrap_or(0)
}

/// Remainder limb columns the program's requants need with `limb_bits`-bit limbs.
pub fn r_limbs_needed(program: &Program, limb_bits: u32) -> usize {
    program
        .nodes
        .iter()
        .map(|node| match &node.op {
            Op::Requant(r) => r.shift.div_ceil(limb_bits) as usize,
            Op::Input { .. }
            | Op::Linear(_)
            | Op::Bilinear(_)
            | Op::Max(_)
            | Op::Gather(_)
            | Op::Table(_)
            | Op::Div(_) => 0,
        })
        .max()
        .unwrap_or(0)
}

/// Rows the program takes with `lanes` lanes (excluding the zero rows);
/// `masks` is [`zero_masks`] of the program; `bits` is the gas layout's
/// block heights (`None`: the limb layout, one row per range check).
pub fn count_rows(program: &Program, masks: &[Vec<bool>], lanes: usize, bits: Option<BitsLayout>) -> usize {
    (0..program.nodes.len()).map(|i| node_rows(program, masks, i, lanes, bits)).sum::<usize>()
        + commitment_rows(program, lanes)
}

/// Rows node `i` takes (as [`count_rows`]).
pub fn node_rows(program: &Program, masks: &[Vec<bool>], i: usize, lanes: usize, bits: Option<BitsLayout>) -> usize {
    let (req_rows, max_rows) = bits.map_or((1, 1), |b| (b.requant_rows(), b.max_rows()));
    let node = &program.nodes[i];
    {
        match &node.op {
            Op::Input { .. } => node.len() * req_rows,
            Op::Linear(op) => {
                let src: Vec<bool> = op.inputs.iter().flat_map(|&v| masks[v].iter().copied()).collect();
                match &op.params {
                    Some(refs) => chips::param_linear::rows(op, refs, lanes, |c| src[c]),
                    None => chips::linear::rows(op, lanes, |c| src[c]),
                }
            }
            Op::Bilinear(op) => chips::bilinear::rows(op, lanes, |c| masks[op.a][c], |c| masks[op.b][c]),
            Op::Requant(op) => masks[op.input].iter().filter(|z| !**z).count() * req_rows,
            Op::Max(op) => chips::max::rows(op) * max_rows,
            Op::Gather(_) => 0,
            Op::Table(_) => node.len(),
            Op::Div(_) => chips::div::rows(node.len()),
        }
    }
}

/// Whether parameter biases need the constant-1 cell (one row before the program).
pub fn needs_one(program: &Program) -> bool {
    program
        .nodes
        .iter()
        .any(|n| matches!(&n.op, Op::Linear(l) if l.params.as_ref().is_some_and(|r| !r.bias.is_empty())))
}

/// Rows of the witness parameters and of every hash (limb layout).
pub fn commitment_rows(program: &Program, lanes: usize) -> usize {
    let block = crate::poseidon::block(lanes);
    let mut rows = 0;
    if let Some(ps) = &program.params {
        rows += match ps.visibility {
            ir::Visibility::Hashed => crate::poseidon::rows(ps.values.len(), block),
            ir::Visibility::Polycommit => 0,
            _ => ps.values.len().div_ceil(lanes),
        };
        rows += usize::from(needs_one(program)); // the constant 1
    }
    if program.input_visibility == ir::Visibility::Hashed {
        rows += crate::poseidon::rows(input_values_len(program), block);
    }
    if program.output_visibility == ir::Visibility::Hashed {
        rows += crate::poseidon::rows(program.outputs.iter().map(|o| program.nodes[o.value].len()).sum(), block);
    }
    rows
}

fn input_values_len(program: &Program) -> usize {
    program.nodes.iter().filter(|n| matches!(n.op, Op::Input { .. })).map(|n| n.len()).sum()
}

/// The quantized inputs in instance order (input index order), concatenated.
pub fn input_values(program: &Program, trace: &Trace) -> Vec<i64> {
    let mut v = vec![];
    for idx in 0..program.inputs.len() {
        if let Some(n) = program.nodes.iter().position(|n| matches!(n.op, Op::Input { index } if index == idx)) {
            v.extend(trace.values[n].iter().copied());
        }
    }
    v
}

/// The outputs' integers, concatenated in output order.
pub fn output_values(program: &Program, trace: &Trace) -> Vec<i64> {
    program.outputs.iter().flat_map(|o| trace.values[o.value].iter().copied()).collect()
}

/// The Poseidon commitment of each hashed part, as [`Program::commitment_parts`]
/// orders them: the values the circuit constrains the last instances to.
pub fn commitments(program: &Program, trace: &Trace) -> Vec<(&'static str, Fr)> {
    let h = |v: &[i64]| crate::poseidon::hash(&v.iter().map(|&x| fe(x)).collect::<Vec<_>>());
    program
        .commitment_parts()
        .into_iter()
        .map(|part| {
            let d = match part {
                "params" => h(&program.params.as_ref().expect("hashed params").values),
                "input" => h(&input_values(program, trace)),
                _ => h(&output_values(program, trace)),
            };
            (part, d)
        })
        .collect()
}

/// Instance values: public inputs (quantized), then public outputs, then
/// the commitments of the hashed parts ([`commitments`]).
pub fn instances(program: &Program, trace: &Trace) -> Vec<Fr> {
    let mut v = Vec::with_capacity(program.num_instances());
    if program.input_visibility == ir::Visibility::Public {
        for idx in 0..program.inputs.len() {
            if let Some(n) = program.nodes.iter().position(|n| matches!(n.op, Op::Input { index } if index == idx)) {
                v.extend(trace.values[n].iter().map(|&x| fe(x)));
            }
        }
    }
    if program.output_visibility == ir::Visibility::Public {
        for o in &program.outputs {
            v.extend(trace.values[o.value].iter().map(|&x| fe(x)));
        }
    }
    v.extend(commitments(program, trace).into_iter().map(|(_, d)| d));
    v
}
