//! Halo2 chips that constrain exactly what `ir::eval` computes.
//!
//! - [`columns`]: the shared column set (advice lanes, fixed weight lanes, tags).
//! - [`chips`]: one file per op family; each adds its gate and assigns its rows.
//! - [`table`]: the one lookup table (remainder limbs, activation range, ReLU).
//! - [`layout`]: the one exhaustive `match` from ir ops to chips.
//! - [`shape`]: the circuit's shape (lanes, k) chosen by a cost estimate.
//! - [`circuit`]: the `halo2_proofs::plonk::Circuit` implementation.
//! - [`polycommit`]: the committed weight columns' values, off-circuit.

#[cfg(any(test, feature = "tamper"))]
pub mod audit;
pub mod chips;
pub mod circuit;
pub mod columns;
pub mod error;
pub mod field;
pub mod layout;
pub mod polycommit;
pub mod poseidon;
pub mod segment;
pub mod shape;
pub mod table;

#[cfg(any(test, feature = "tamper"))]
pub use circuit::Tamper;
pub use circuit::{ModelCircuit, TamperTarget};
pub use error::CircuitError;
pub use field::{fe, fe_to_i64, Fr};
pub use shape::{
    plan, plan_for, plan_limited, plan_with, plan_within, prove_bytes, CircuitShape, CostReport, Layout, Limits,
    Optimize,
};
