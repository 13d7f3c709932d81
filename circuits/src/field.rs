//! Signed integers as BN254 scalar field elements.

pub use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::PrimeField;

/// `v` as a field element (negative values as `p - |v|`).
pub fn fe(v: i64) -> Fr {
    if v >= 0 {
        Fr::from(v as u64)
    } else {
        -Fr::from(v.unsigned_abs())
    }
}

/// The inverse of [`fe`] for elements within `i64`; `None` otherwise.
pub fn fe_to_i64(x: &Fr) -> Option<i64> {
    let small = |f: &Fr| -> Option<u64> {
        let r = f.to_repr();
        let b = r.as_ref();
        if b[8..].iter().any(|&x| x != 0) {
            return None;
        }
        Some(u64::from_le_bytes(b[..8].try_into().ok()?))
    };
    if let Some(v) = small(x).filter(|&v| v <= i64::MAX as u64) {
        return Some(v as i64);
    }
    small(&-*x).filter(|&v| v <= 1u64 << 63).map(|v| (v as i128).wrapping_neg() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn roundtrip() {
        for v in [0i64, 1, -1, 12345, -98765, i64::MAX, i64::MIN + 1] {
            assert_eq!(fe_to_i64(&fe(v)), Some(v));
        }
    }
}
