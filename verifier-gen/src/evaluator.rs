//! Expressions to Yul. Shallow expressions are written inline; sums and
//! products deeper than [`MAX_INLINE`] become accumulator statements in
//! nested blocks, so the EVM stack stays shallow (no "stack too deep", with
//! or without the optimizer) and every modulus reference is a `DUP` of `R`.

use halo2_proofs::halo2curves::{bn256::Fr, ff::PrimeField};

use crate::expr::Ex;

const MAX_INLINE: usize = 3;

/// A field element as a Yul literal (decimal when small).
pub(crate) fn fr_literal(f: &Fr) -> String {
    let be = fr_be(f);
    if be[..24].iter().all(|&b| b == 0) {
        let v = u64::from_be_bytes(be[24..].try_into().expect("8 bytes"));
        if v < 1 << 32 {
            return v.to_string();
        }
    }
    format!("0x{}", hex(&be))
}

pub(crate) fn fr_be(f: &Fr) -> [u8; 32] {
    let mut r = f.to_repr();
    r.reverse();
    r
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Nested temporaries (`let tN` live at once) that [`Emitter::assign`] needs
/// for `ex`, with its terms in the order it writes them.
fn temporaries(ex: &Ex) -> usize {
    if ex.depth() <= MAX_INLINE {
        return 0;
    }
    match ex {
        Ex::Neg(a) => temporaries(a),
        Ex::Sum(t) | Ex::Prod(t) => {
            let mut r: Vec<(usize, bool)> = t.iter().map(|e| (temporaries(e), e.depth() > MAX_INLINE)).collect();
            r.sort_by_key(|&(n, _)| std::cmp::Reverse(n));
            r.iter().enumerate().map(|(i, &(n, deep))| if i > 0 && deep { n + 1 } else { n }).max().unwrap_or(0)
        }
        _ => 0,
    }
}

/// Writes Yul statements; `R` must be the scalar modulus in scope.
pub(crate) struct Emitter {
    pub lines: Vec<String>,
    indent: usize,
    fresh: usize,
}

impl Emitter {
    pub fn new(indent: usize) -> Emitter {
        Emitter { lines: vec![], indent, fresh: 0 }
    }

    pub fn line(&mut self, s: impl AsRef<str>) {
        for l in s.as_ref().lines() {
            self.lines.push(format!("{}{}", "    ".repeat(self.indent), l));
        }
    }

    pub fn open(&mut self, s: impl AsRef<str>) {
        self.line(format!("{}{{", s.as_ref()));
        self.indent += 1;
    }

    pub fn close(&mut self) {
        self.indent -= 1;
        self.line("}");
    }

    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }

    fn var(&mut self) -> String {
        self.fresh += 1;
        format!("t{}", self.fresh)
    }

    /// `ex` as one Yul expression (only for shallow expressions).
    pub fn inline(&self, ex: &Ex) -> String {
        match ex {
            Ex::Const(c) => fr_literal(c),
            Ex::Cd(at) => format!("calldataload({at:#x})"),
            Ex::Mem(at) => format!("mload({at:#x})"),
            Ex::Q(q) => unreachable!("query {q:?} left unresolved"),
            Ex::Neg(a) => format!("sub(R, {})", self.inline(a)),
            Ex::Sum(t) => self.fold(t, "addmod"),
            Ex::Prod(t) => self.fold(t, "mulmod"),
        }
    }

    fn fold(&self, terms: &[Ex], op: &str) -> String {
        let mut it = terms.iter();
        let mut s = match it.next() {
            Some(t) => self.inline(t),
            None => return if op == "addmod" { "0".into() } else { "1".into() },
        };
        for t in it {
            s = format!("{op}({s}, {}, R)", self.inline(t));
        }
        s
    }

    /// Emits statements that leave `ex` (reduced or not, below 2^256) in
    /// `var`; declares `var` when `declare`.
    pub fn assign(&mut self, ex: &Ex, var: &str, declare: bool) {
        let kw = if declare { "let " } else { "" };
        if ex.depth() <= MAX_INLINE {
            let e = self.inline(ex);
            self.line(format!("{kw}{var} := {e}"));
            return;
        }
        match ex {
            Ex::Neg(a) => {
                self.assign(a, var, declare);
                self.line(format!("{var} := sub(R, {var})"));
            }
            Ex::Sum(t) | Ex::Prod(t) => {
                let op = if matches!(ex, Ex::Sum(_)) { "addmod" } else { "mulmod" };
                // Sums and products commute: the term needing the most
                // nested temporaries goes first, into `var` itself, so each
                // later term's temporaries stack on one local only
                // (Sethi-Ullman order; without it a deep gate, e.g. the gas
                // layout's bilinear gate beside a function lookup, runs out
                // of the 16 reachable stack slots).
                let mut t: Vec<&Ex> = t.iter().collect();
                t.sort_by_key(|e| std::cmp::Reverse(temporaries(e)));
                self.assign(t[0], var, declare);
                for &term in &t[1..] {
                    if term.depth() <= MAX_INLINE {
                        let e = self.inline(term);
                        self.line(format!("{var} := {op}({var}, {e}, R)"));
                    } else {
                        let v = self.var();
                        self.open("");
                        self.assign(term, &v, true);
                        self.line(format!("{var} := {op}({var}, {v}, R)"));
                        self.close();
                    }
                }
            }
            _ => unreachable!("leaves are shallow"),
        }
    }
}
