//! A small expression language for verifier arithmetic mod r: what halo2's
//! gate and lookup expressions become once their queries are resolved to
//! proof words (calldata) or computed values (memory), and what the
//! permutation and lookup identities are written in.

use halo2_proofs::halo2curves::bn256::Fr;

/// A query of the constraint system, by its index in the system's query lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Query {
    Advice(usize),
    Fixed(usize),
    Instance(usize),
    Challenge(usize),
}

/// Where a value lives, or what it is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ex {
    Const(Fr),
    /// An unresolved query (only between extraction and rendering).
    Q(Query),
    /// A 32-byte word of calldata at this absolute offset (a proof scalar).
    Cd(usize),
    /// A 32-byte word of memory at this address (a challenge or derived value).
    Mem(usize),
    Neg(Box<Ex>),
    Sum(Vec<Ex>),
    Prod(Vec<Ex>),
}

impl Ex {
    pub fn one() -> Ex {
        Ex::Const(Fr::one())
    }

    pub fn neg(self) -> Ex {
        match self {
            Ex::Neg(a) => *a,
            a => Ex::Neg(Box::new(a)),
        }
    }

    /// `a + b`, flattening nested sums.
    pub fn add(self, b: Ex) -> Ex {
        let mut terms = match self {
            Ex::Sum(t) => t,
            a => vec![a],
        };
        match b {
            Ex::Sum(t) => terms.extend(t),
            b => terms.push(b),
        }
        Ex::Sum(terms)
    }

    pub fn sub(self, b: Ex) -> Ex {
        self.add(b.neg())
    }

    /// `a * b`, flattening nested products.
    pub fn mul(self, b: Ex) -> Ex {
        let mut factors = match self {
            Ex::Prod(t) => t,
            a => vec![a],
        };
        match b {
            Ex::Prod(t) => factors.extend(t),
            b => factors.push(b),
        }
        Ex::Prod(factors)
    }

    /// Replaces every query by what `f` resolves it to.
    pub fn resolve<E>(&self, f: &impl Fn(Query) -> Result<Ex, E>) -> Result<Ex, E> {
        Ok(match self {
            Ex::Q(q) => f(*q)?,
            Ex::Neg(a) => Ex::Neg(Box::new(a.resolve(f)?)),
            Ex::Sum(t) => Ex::Sum(t.iter().map(|e| e.resolve(f)).collect::<Result<_, _>>()?),
            Ex::Prod(t) => Ex::Prod(t.iter().map(|e| e.resolve(f)).collect::<Result<_, _>>()?),
            e => e.clone(),
        })
    }

    /// Nesting depth of the Yul expression [`inline`](crate::evaluator) would write.
    pub fn depth(&self) -> usize {
        match self {
            Ex::Const(_) | Ex::Q(_) | Ex::Cd(_) | Ex::Mem(_) => 1,
            Ex::Neg(a) => a.depth() + 1,
            Ex::Sum(t) | Ex::Prod(t) => t.iter().map(Ex::depth).max().unwrap_or(0) + t.len().saturating_sub(1),
        }
    }
}
