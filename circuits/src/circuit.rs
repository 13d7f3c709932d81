//! The halo2 circuit of a compiled program.

use std::sync::Arc;
#[cfg(any(test, feature = "tamper"))]
use std::sync::Mutex;

use halo2_proofs::{
    circuit::{Cell, Layouter, SimpleFloorPlanner},
    plonk::{Circuit, ConstraintSystem, Error},
};
use ir::{Program, Trace};

use crate::{
    chips::{self, Selectors},
    columns::Columns,
    field::Fr,
    layout::{self, Ctx},
    shape::CircuitShape,
    table,
};

#[derive(Clone, Debug)]
pub struct ModelConfig {
    pub cols: Columns,
    pub sel: Selectors,
    pub shape: CircuitShape,
}

/// Which witness cell a `Tamper` changes (a label the chips pass to
/// `Ctx::tampered`; the hooks themselves exist only with the `tamper`
/// feature).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TamperTarget {
    /// An op's output cell.
    Output,
    /// A range row's quotient, with the remainder adjusted so the rescale still holds.
    Quotient,
    /// A range row's sign bit (a division's remainder row).
    Sign,
    /// A division's remainder, changed alone.
    Remainder,
    /// Witness parameter `node` (the slot) where it is held (and hashed).
    Param,
    /// Witness parameter `node` (the slot) in every dot-product row that
    /// uses it (`element` 0): a weight changed after hashing.
    ParamUse,
    /// The quantized input (`element`: its index in the concatenation of all
    /// inputs) where it is hashed (`--input-visibility hashed`): a preimage
    /// that differs from the input the model ran on.
    HashedInput,
    /// The advice cell with assignment index `element` (`node` unused):
    /// `delta` is added to exactly that one assigned value
    /// (`circuits::audit`).
    Cell,
}

/// A deliberate witness change, for negative tests: a cheating prover's move.
/// Only with the `tamper` feature (test builds), never in production types.
#[cfg(any(test, feature = "tamper"))]
#[derive(Clone, Debug)]
pub struct Tamper {
    pub node: usize,
    pub element: usize,
    pub target: TamperTarget,
    pub delta: i64,
}

#[derive(Clone, Debug)]
pub struct ModelCircuit {
    pub program: Arc<Program>,
    pub shape: CircuitShape,
    pub trace: Arc<Trace>,
    pub witness: bool,
    /// Test hooks (the `tamper` feature).
    #[cfg(any(test, feature = "tamper"))]
    pub tamper: Vec<Tamper>,
    /// Where synthesis leaves its log of every assigned advice cell, when
    /// `Some` (the `tamper` feature; `circuits::audit`).
    #[cfg(any(test, feature = "tamper"))]
    pub audit_log: Option<Arc<Mutex<Vec<crate::audit::AuditCell>>>>,
}

impl ModelCircuit {
    /// A circuit with a witness from `ir::eval`.
    pub fn new(program: Arc<Program>, shape: CircuitShape, trace: Arc<Trace>) -> Self {
        ModelCircuit {
            program,
            shape,
            trace,
            witness: true,
            #[cfg(any(test, feature = "tamper"))]
            tamper: vec![],
            #[cfg(any(test, feature = "tamper"))]
            audit_log: None,
        }
    }

    /// A circuit for key generation: the layout only.
    pub fn for_keygen(program: Arc<Program>, shape: CircuitShape) -> Self {
        let values = program.nodes.iter().map(|n| vec![0; n.len()]).collect();
        ModelCircuit {
            program,
            shape,
            trace: Arc::new(Trace { values }),
            witness: false,
            #[cfg(any(test, feature = "tamper"))]
            tamper: vec![],
            #[cfg(any(test, feature = "tamper"))]
            audit_log: None,
        }
    }

    /// The public instance column for this circuit's trace.
    pub fn instances(&self) -> Vec<Fr> {
        layout::instances(&self.program, &self.trace)
    }

    pub fn configure_shape(meta: &mut ConstraintSystem<Fr>, shape: &CircuitShape) -> ModelConfig {
        let cols = Columns::configure(meta, shape);
        let sel = Selectors {
            linear: chips::linear::configure(meta, &cols),
            bilinear: shape.bilinear.then(|| chips::bilinear::configure(meta, &cols)),
            committed: shape.polycommit.then(|| {
                chips::bilinear::configure_over(meta, &cols, &cols.pw, "committed: acc = cont*acc_prev + sum x*pw")
            }),
            range: shape
                .bits
                .is_none()
                .then(|| chips::range::configure(meta, &cols, shape.range_bits, shape.limb_bits, shape.tables)),
            bits: shape.bits.map(|layout| chips::bits::configure(meta, &cols, layout)),
            div: shape.div.then(|| chips::div::configure(meta, &cols)),
            poseidon: shape.poseidon.then(|| {
                let fixed: Vec<_> = cols.w.iter().chain(&cols.pfix).copied().collect();
                chips::poseidon::configure(meta, &cols.x, &fixed, crate::poseidon::block(cols.lanes()))
            }),
        };
        ModelConfig { cols, sel, shape: shape.clone() }
    }
}

impl Circuit<Fr> for ModelCircuit {
    type Config = ModelConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitShape;

    fn without_witnesses(&self) -> Self {
        ModelCircuit {
            witness: false,
            #[cfg(any(test, feature = "tamper"))]
            tamper: vec![],
            #[cfg(any(test, feature = "tamper"))]
            audit_log: None,
            ..self.clone()
        }
    }

    fn params(&self) -> CircuitShape {
        self.shape.clone()
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, shape: CircuitShape) -> ModelConfig {
        Self::configure_shape(meta, &shape)
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> ModelConfig {
        Self::configure_shape(meta, &CircuitShape::default())
    }

    fn synthesize(&self, config: ModelConfig, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        let (program, trace) = (&self.program, &self.trace);
        // Limb rows (none in the gas layout, where limb_bits = 0) and function rows.
        let functions = table::function_tables(program);
        table::assign_table(&mut layouter, &config.cols, config.shape.limb_bits, &functions)?;
        let public = layouter.assign_region(
            || "model",
            |mut region| {
                #[cfg(any(test, feature = "tamper"))]
                let audit = crate::audit::Audit::new(&self.tamper, self.audit_log.is_some());
                let (zero, first_row) = layout::zero_cell(
                    &mut region,
                    &config,
                    self.witness,
                    #[cfg(any(test, feature = "tamper"))]
                    &audit,
                )?;
                let mut ctx = Ctx::new(
                    &mut region,
                    &config.cols,
                    &config.sel,
                    (config.shape.limb_bits, config.shape.range_bits),
                    zero,
                    first_row,
                    self.witness,
                    #[cfg(any(test, feature = "tamper"))]
                    &audit,
                );
                let (params, params_digest) = layout::assign_params(&mut ctx, program);
                let assigned = layout::assign_program(&mut ctx, program, trace, &params);
                // Hashed input: the checked quantized inputs, with a test
                // hook for a preimage other than the input the model ran on.
                let input_digest = (program.input_visibility == ir::Visibility::Hashed).then(|| {
                    let cells: Vec<Option<Cell>> =
                        assigned.input_cells.iter().flat_map(|c| c.iter().map(|&x| Some(x))).collect();
                    let values: Vec<i64> = layout::input_values(program, trace)
                        .into_iter()
                        .enumerate()
                        .map(|(e, v)| ctx.tampered(usize::MAX, e, crate::TamperTarget::HashedInput, v))
                        .collect();
                    ctx.site(None, "input hash");
                    layout::assign_hash(&mut ctx, &cells, &values)
                });
                let output_digest = (program.output_visibility == ir::Visibility::Hashed).then(|| {
                    let cells: Vec<Option<Cell>> =
                        program.outputs.iter().flat_map(|o| assigned.cells[o.value].iter().copied()).collect();
                    ctx.site(None, "output hash");
                    layout::assign_hash(&mut ctx, &cells, &layout::output_values(program, trace))
                });
                let used = ctx.finish()?;
                #[cfg(any(test, feature = "tamper"))]
                if let Some(log) = &self.audit_log {
                    // The floor planner synthesizes the region more than
                    // once, identically: the last pass's log stands.
                    *log.lock().expect("audit log lock") = audit.into_log();
                }
                // One source of row counts: what the planner sized k by is
                // what was assigned (every suite run checks it, the corpus
                // included; a mismatch is a layout bug, never a model's fault).
                debug_assert_eq!(
                    used,
                    first_row
                        + layout::count_rows(
                            program,
                            &layout::zero_masks(program),
                            config.cols.lanes(),
                            config.shape.bits
                        ),
                    "planned and assigned rows differ"
                );
                let mut public = vec![];
                if program.input_visibility == ir::Visibility::Public {
                    for cells in &assigned.input_cells {
                        public.extend(cells.iter().copied());
                    }
                }
                if program.output_visibility == ir::Visibility::Public {
                    for o in &program.outputs {
                        public.extend(assigned.cells[o.value].iter().map(|c| c.unwrap_or(zero)));
                    }
                }
                // Commitments, in `Program::commitment_parts` order.
                for d in [params_digest, input_digest.flatten(), output_digest.flatten()] {
                    public.extend(d);
                }
                Ok(public)
            },
        )?;
        for (row, cell) in public.into_iter().enumerate() {
            layouter.constrain_instance(cell, config.cols.instance, row);
        }
        Ok(())
    }
}
