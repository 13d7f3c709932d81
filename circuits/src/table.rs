//! The one lookup table: `(bits, v, top)` for every `bits` in `1..=L` and
//! every `0 <= v < 2^bits`, where `top = v >> (bits - 1)` is `v`'s top bit;
//! plus `(0, 0, 0)`, what inactive rows look up. Its size, `2^(L+1)`, is set
//! by the limb width `L`, not by the activation range: wide values are split
//! into limbs, each looked up with its own width.

use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::Error,
};

use crate::{columns::Columns, field::Fr};

/// Table rows for limb width `limb_bits`.
pub fn table_rows(limb_bits: u32) -> usize {
    (1usize << (limb_bits + 1)) - 1
}

pub fn assign_table(layouter: &mut impl Layouter<Fr>, cols: &Columns, limb_bits: u32) -> Result<(), Error> {
    layouter.assign_table(
        || "limb table",
        |mut table| {
            let mut row = 0;
            let mut put = |tag: u64, v: u64, top: u64| -> Result<(), Error> {
                table.assign_cell(|| "bits", cols.table[0], row, || Value::known(Fr::from(tag)))?;
                table.assign_cell(|| "v", cols.table[1], row, || Value::known(Fr::from(v)))?;
                table.assign_cell(|| "top", cols.table[2], row, || Value::known(Fr::from(top)))?;
                row += 1;
                Ok(())
            };
            put(0, 0, 0)?;
            for bits in 1..=limb_bits as u64 {
                for v in 0..1u64 << bits {
                    put(bits, v, v >> (bits - 1))?;
                }
            }
            Ok(())
        },
    )
}
