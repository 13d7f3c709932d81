//! The one lookup table: `(bits, v, top)` for every `bits` in `1..=L` and
//! every `0 <= v < 2^bits`, where `top = v >> (bits - 1)` is `v`'s top bit;
//! plus `(0, 0, 0)`, what inactive rows look up. Its size, `2^(L+1)`, is set
//! by the limb width `L`, not by the activation range: wide values are split
//! into limbs, each looked up with its own width.
//!
//! Function tables (`ir::Op::Table`) follow in the same columns as
//! `(FUNCTION_TAG + i, x, f(x))` for the program's `i`-th distinct table.
//! Their tags are far above every limb width, so a range lookup (whose first
//! component is a width) can never match a function entry, nor the reverse.

use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::Error,
};

use ir::{Op, Program, TableOp};

use crate::{
    columns::Columns,
    field::{fe, Fr},
};

/// Tag of the first function table (limb widths are at most 16).
pub const FUNCTION_TAG: u64 = 1 << 20;

/// Table rows for limb width `limb_bits`.
pub fn table_rows(limb_bits: u32) -> usize {
    (1usize << (limb_bits + 1)) - 1
}

/// The program's distinct function tables, in first-use order; a node's
/// table is `tables[function_index(..)]`.
pub fn function_tables(program: &Program) -> Vec<&TableOp> {
    let mut out: Vec<&TableOp> = vec![];
    for n in &program.nodes {
        if let Op::Table(t) = &n.op {
            if !out.iter().any(|u| u.lo == t.lo && u.values == t.values) {
                out.push(t);
            }
        }
    }
    out
}

/// Tag of `t` among `tables` (from [`function_tables`]).
pub fn function_tag(tables: &[&TableOp], t: &TableOp) -> u64 {
    let i = tables.iter().position(|u| u.lo == t.lo && u.values == t.values).expect("table listed");
    FUNCTION_TAG + i as u64
}

/// Table rows the program's function tables add.
pub fn function_rows(program: &Program) -> usize {
    function_tables(program).iter().map(|t| t.values.len()).sum()
}

pub fn assign_table(
    layouter: &mut impl Layouter<Fr>,
    cols: &Columns,
    limb_bits: u32,
    functions: &[&TableOp],
) -> Result<(), Error> {
    let Some(cols) = cols.table else {
        return Ok(()); // the gas layout has no table
    };
    layouter.assign_table(
        || "limb table",
        |mut table| {
            let mut row = 0;
            let mut put = |tag: u64, v: u64, top: u64| -> Result<(), Error> {
                table.assign_cell(|| "bits", cols[0], row, || Value::known(Fr::from(tag)))?;
                table.assign_cell(|| "v", cols[1], row, || Value::known(Fr::from(v)))?;
                table.assign_cell(|| "top", cols[2], row, || Value::known(Fr::from(top)))?;
                row += 1;
                Ok(())
            };
            put(0, 0, 0)?;
            for bits in 1..=limb_bits as u64 {
                for v in 0..1u64 << bits {
                    put(bits, v, v >> (bits - 1))?;
                }
            }
            for (i, t) in functions.iter().enumerate() {
                let tag = Fr::from(FUNCTION_TAG + i as u64);
                for (j, &y) in t.values.iter().enumerate() {
                    table.assign_cell(|| "tag", cols[0], row, || Value::known(tag))?;
                    table.assign_cell(|| "x", cols[1], row, || Value::known(fe(t.lo + j as i64)))?;
                    table.assign_cell(|| "f(x)", cols[2], row, || Value::known(fe(y)))?;
                    row += 1;
                }
            }
            Ok(())
        },
    )
}
