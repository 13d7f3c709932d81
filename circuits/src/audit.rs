//! Test-only witness audit (the `tamper` feature; nothing of it exists in
//! production builds): every advice cell the circuit assigns gets an index,
//! in assignment order, and a class: the program node being laid out and its
//! op kind, or a part outside the nodes (the zero cell, the parameters, the
//! constant 1, the hashes). [`TamperTarget::Cell`](crate::TamperTarget)
//! adds its `delta` to exactly the cell whose index is its `element`, every
//! other cell keeping its honest value: a cheating prover's one bad cell.
//! `circuits/tests/audit.rs` mutates cells of every class and checks that
//! MockProver rejects each (docs/NOTES.md, "Soundness audit").
//!
//! Lookup tables and instances are fixed or public, never advice, so they
//! have no class.

use std::cell::{Cell as StdCell, RefCell};

use halo2_proofs::plonk::{Advice, Column};

use crate::{
    columns::Columns,
    field::{fe, Fr},
    Tamper, TamperTarget,
};

/// What is being laid out when a cell is assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Site {
    /// The program node, `None` outside the nodes.
    pub node: Option<usize>,
    /// The node's op kind (`"linear"`, `"requant"`, ...) or the non-node
    /// part (`"zero cell"`, `"params"`, `"params hash"`, `"one"`,
    /// `"input hash"`, `"output hash"`).
    pub class: &'static str,
}

/// One assigned advice cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditCell {
    /// Its assignment index (`Tamper::element` of a `TamperTarget::Cell`).
    pub index: usize,
    pub site: Site,
    /// `x[i]`, `b[i]` or `acc`.
    pub column: String,
    /// Row in the one region (the model region starts at row 0).
    pub row: usize,
    /// Assigned as padding: a cell the chip fills with 0 that no enabled
    /// constraint should depend on (`Ctx::pad`).
    pub padding: bool,
}

/// The assignment counter, the current site and (when asked for) the log.
/// Shared by reference ([`Ctx`](crate::layout::Ctx), the zero cell, the
/// Poseidon chip's hook), hence the interior mutability.
pub struct Audit<'a> {
    tamper: &'a [Tamper],
    next: StdCell<usize>,
    site: StdCell<Site>,
    log: Option<RefCell<Vec<AuditCell>>>,
}

impl<'a> Audit<'a> {
    /// `log`: record every cell (else only count them).
    pub fn new(tamper: &'a [Tamper], log: bool) -> Self {
        Audit {
            tamper,
            next: StdCell::new(0),
            site: StdCell::new(Site { node: None, class: "zero cell" }),
            log: log.then(|| RefCell::new(vec![])),
        }
    }

    pub fn tamper(&self) -> &'a [Tamper] {
        self.tamper
    }

    pub fn set_site(&self, node: Option<usize>, class: &'static str) {
        self.site.set(Site { node, class });
    }

    /// Counts (and logs) the next assigned cell; returns `v` plus the
    /// deltas of the `TamperTarget::Cell` tampers aimed at it.
    pub fn cell(&self, cols: &Columns, col: Column<Advice>, row: usize, v: Fr, padding: bool) -> Fr {
        let index = self.next.get();
        self.next.set(index + 1);
        if let Some(log) = &self.log {
            let column = column_name(cols, col);
            log.borrow_mut().push(AuditCell { index, site: self.site.get(), column, row, padding });
        }
        self.tamper
            .iter()
            .filter(|t| t.target == TamperTarget::Cell && t.element == index)
            .fold(v, |v, t| v + fe(t.delta))
    }

    /// The log (empty unless asked for).
    pub fn into_log(self) -> Vec<AuditCell> {
        self.log.map(RefCell::into_inner).unwrap_or_default()
    }
}

fn column_name(cols: &Columns, col: Column<Advice>) -> String {
    if col == cols.acc {
        return "acc".into();
    }
    if let Some(i) = cols.x.iter().position(|c| *c == col) {
        return format!("x[{i}]");
    }
    if let Some(i) = cols.b.iter().position(|c| *c == col) {
        return format!("b[{i}]");
    }
    if let Some(i) = cols.pw.iter().position(|c| *c == col) {
        return format!("pw[{i}]");
    }
    format!("advice {}", col.index())
}
