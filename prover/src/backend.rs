//! Which implementation runs `create_proof`: halo2-axiom on the CPU (the
//! default), or halo2-axiom-gpu's CUDA prover in builds with the `cuda` cargo
//! feature. Keys, SRS, transcript and proof format are the same for both, so a
//! proof from either verifies with [`crate::verify`] and on chain.

use std::fmt;
use std::str::FromStr;

use crate::error::ProverError;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// halo2-axiom's prover (multi-threaded CPU MSMs and FFTs).
    #[default]
    Cpu,
    /// halo2-axiom-gpu's CUDA prover; only in builds with the `cuda` feature.
    Cuda,
}

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::Cpu, Backend::Cuda];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether this build can run the backend.
    pub fn compiled_in(self) -> bool {
        match self {
            Backend::Cpu => true,
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// `Ok` if this build can run the backend, else a clear error saying how
    /// to get one that can (before any proving work starts).
    pub fn check(self) -> Result<(), ProverError> {
        if self.compiled_in() {
            Ok(())
        } else {
            Err(self.unavailable())
        }
    }

    pub(crate) fn unavailable(self) -> ProverError {
        ProverError::BackendUnavailable {
            backend: self.name(),
            reason: format!(
                "this zkinfer was built without the `{0}` feature; rebuild it with `cargo build --release \
                 --features {0}` on a machine with the CUDA toolkit",
                self.name()
            ),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("unknown prover backend {s:?} (expected cpu or cuda)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_availability() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
        }
        assert!("gpu".parse::<Backend>().is_err());
        assert_eq!(Backend::default(), Backend::Cpu);
        assert!(Backend::Cpu.check().is_ok());
        assert_eq!(Backend::Cuda.check().is_ok(), cfg!(feature = "cuda"));
        if !cfg!(feature = "cuda") {
            let e = Backend::Cuda.check().unwrap_err().to_string();
            assert!(e.contains("built without the `cuda` feature"), "{e}");
        }
    }
}
