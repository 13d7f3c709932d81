//! Elementwise non-linear functions proven by table lookup (`FOp::Func`).
//! Each is a plain `f64 -> f64` map: the float reference evaluates it, and
//! lowering tabulates it over the input's calibrated domain (see
//! `passes::lower`). Inputs outside a function's mathematical domain (log or
//! sqrt of a negative number) are tabulated at the nearest point inside it,
//! so every table entry is finite.

/// An elementwise function and its constant parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Func {
    Sigmoid,
    Tanh,
    Exp,
    Log,
    Erf,
    Softplus,
    Softsign,
    Elu(f64),
    Selu {
        alpha: f64,
        gamma: f64,
    },
    Celu(f64),
    Mish,
    Sqrt,
    Reciprocal,
    /// `1 / sqrt(x + eps)` (normalizations).
    Rsqrt(f64),
    Sin,
    Cos,
    Sign,
    Round,
    Floor,
    Ceil,
    /// `x^p` for a constant exponent.
    Pow(f64),
    /// `b^x` for a constant base.
    ExpBase(f64),
    /// Gelu, exact (`erf`) form.
    Gelu,
    /// Gelu, tanh approximation.
    GeluTanh,
    Atan,
    /// `tan x`; the table spans the calibrated domain, so inputs near a pole
    /// (`±π/2`) give a table as wide as the calibrated outputs.
    Tan,
    /// `asin x`, domain `[-1, 1]` (inputs outside are clamped into it).
    Asin,
    /// `acos x`, domain `[-1, 1]` (inputs outside are clamped into it).
    Acos,
    /// Cast to an integer type: truncation toward zero.
    Trunc,
    /// Cast to bool: `[x != 0]`.
    NonZero,
}

impl Func {
    pub fn name(&self) -> &'static str {
        match self {
            Func::Sigmoid => "sigmoid",
            Func::Tanh => "tanh",
            Func::Exp => "exp",
            Func::Log => "log",
            Func::Erf => "erf",
            Func::Softplus => "softplus",
            Func::Softsign => "softsign",
            Func::Elu(_) => "elu",
            Func::Selu { .. } => "selu",
            Func::Celu(_) => "celu",
            Func::Mish => "mish",
            Func::Sqrt => "sqrt",
            Func::Reciprocal => "reciprocal",
            Func::Rsqrt(_) => "rsqrt",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Sign => "sign",
            Func::Round => "round",
            Func::Floor => "floor",
            Func::Ceil => "ceil",
            Func::Pow(_) => "pow",
            Func::ExpBase(_) => "exp_base",
            Func::Gelu => "gelu",
            Func::GeluTanh => "gelu_tanh",
            Func::Atan => "atan",
            Func::Tan => "tan",
            Func::Asin => "asin",
            Func::Acos => "acos",
            Func::Trunc => "trunc",
            Func::NonZero => "nonzero",
        }
    }

    /// Whether the function is piecewise constant (its table must be exact
    /// at the input's full resolution).
    pub fn is_step(&self) -> bool {
        matches!(self, Func::Sign | Func::Round | Func::Floor | Func::Ceil | Func::Trunc | Func::NonZero)
    }

    /// The function at `x` (ONNX semantics; `Round` rounds half to even).
    pub fn apply(&self, x: f64) -> f64 {
        let softplus = |x: f64| if x > 30.0 { x } else { x.exp().ln_1p() };
        match *self {
            Func::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Func::Tanh => x.tanh(),
            Func::Exp => x.exp(),
            Func::Log => x.ln(),
            Func::Erf => erf(x),
            Func::Softplus => softplus(x),
            Func::Softsign => x / (1.0 + x.abs()),
            Func::Elu(a) => {
                if x >= 0.0 {
                    x
                } else {
                    a * x.exp_m1()
                }
            }
            Func::Selu { alpha, gamma } => {
                if x > 0.0 {
                    gamma * x
                } else {
                    gamma * alpha * x.exp_m1()
                }
            }
            Func::Celu(a) => x.max(0.0) + (a * (x / a).exp_m1()).min(0.0),
            Func::Mish => x * softplus(x).tanh(),
            Func::Sqrt => x.sqrt(),
            Func::Reciprocal => 1.0 / x,
            Func::Rsqrt(eps) => 1.0 / (x + eps).sqrt(),
            Func::Sin => x.sin(),
            Func::Cos => x.cos(),
            Func::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Func::Round => x.round_ties_even(),
            Func::Floor => x.floor(),
            Func::Ceil => x.ceil(),
            Func::Pow(p) => x.powf(p),
            Func::ExpBase(b) => b.powf(x),
            Func::Gelu => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
            Func::GeluTanh => {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
            }
            Func::Atan => x.atan(),
            Func::Tan => x.tan(),
            Func::Asin => x.asin(),
            Func::Acos => x.acos(),
            Func::Trunc => x.trunc(),
            Func::NonZero => (x != 0.0) as i64 as f64,
        }
    }

    /// The function at `x` moved into its domain: finite wherever the
    /// function has a finite limit, what tables are built from.
    pub fn apply_clamped(&self, x: f64) -> f64 {
        const TINY: f64 = 1e-9;
        let x = match *self {
            Func::Log | Func::Reciprocal if x < TINY => TINY,
            Func::Sqrt if x < 0.0 => 0.0,
            Func::Rsqrt(eps) if x + eps < TINY => TINY - eps,
            Func::Pow(p) if x < 0.0 && p.fract() != 0.0 => 0.0,
            Func::Pow(p) if x.abs() < TINY && p < 0.0 => TINY,
            Func::Asin | Func::Acos => x.clamp(-1.0, 1.0),
            _ => x,
        };
        self.apply(x)
    }
}

/// The error function, to about 1e-13 (Abramowitz–Stegun 7.1.26 is too
/// coarse for tables at 16 fractional bits; this is the series / continued
/// fraction pair).
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let ax = x.abs();
    let r = if ax < 2.5 {
        // Maclaurin series: erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)).
        let mut term = ax;
        let mut sum = ax;
        let x2 = ax * ax;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x2 / n;
            sum += term / (2.0 * n + 1.0);
            if n > 200.0 {
                break;
            }
        }
        2.0 / std::f64::consts::PI.sqrt() * sum
    } else if ax > 6.0 {
        1.0
    } else {
        // erfc by Lentz's continued fraction: erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))).
        let mut f = ax;
        let mut c = ax;
        let mut d = 0.0;
        for k in 1..200 {
            let a = k as f64 / 2.0;
            d = ax + a * d;
            d = if d == 0.0 { 1e-300 } else { 1.0 / d };
            c = ax + a / c;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        1.0 - (-ax * ax).exp() / (f * std::f64::consts::PI.sqrt())
    };
    if x < 0.0 {
        -r
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.0, 0.999_977_909_503_001_4),
            (-1.5, -0.966_105_146_475_310_7),
        ] {
            assert!((erf(x) - want).abs() < 1e-12, "erf({x}) = {} != {want}", erf(x));
        }
    }

    #[test]
    fn functions_follow_onnx() {
        assert!((Func::Sigmoid.apply(0.0) - 0.5).abs() < 1e-15);
        assert_eq!(Func::Round.apply(2.5), 2.0);
        assert_eq!(Func::Round.apply(-1.5), -2.0);
        assert_eq!(Func::Sign.apply(-0.0), 0.0);
        assert!((Func::Elu(1.0).apply(-1.0) - (-0.632_120_558_828_557_7)).abs() < 1e-12);
        assert!(Func::Log.apply_clamped(-1.0).is_finite());
        assert!(Func::Rsqrt(1e-5).apply_clamped(-1.0).is_finite());
        assert!((Func::Gelu.apply(1.0) - 0.841_344_746_068_542_9).abs() < 1e-12);
    }
}
