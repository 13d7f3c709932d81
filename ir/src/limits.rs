//! Resource bounds on what is read from files: a file is read only if it is a
//! regular file no larger than a cap, and a tensor or product is built only
//! if its size is below a cap. The caps are one [`Limits`] per process,
//! defaults unless the program [`set`]s others first (the CLI sets them from
//! `ZKINFER_MAX_FILE_BYTES`, `ZKINFER_MAX_TENSOR_ELEMENTS` and
//! `ZKINFER_MAX_OP_TERMS`, which the error messages name).

use std::{io::Read, path::Path, sync::OnceLock};

/// The caps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Models, JSON inputs, proofs and programs, in bytes (default 2 GiB,
    /// protobuf's own limit). Keys and SRS files are bounded by their own
    /// size only: they are the operator's artifacts, checksummed before
    /// they are parsed.
    pub max_file_bytes: u64,
    /// Every tensor the compiler builds, from an initializer, a shape or
    /// folding (default 2^22 elements: 32 MiB as f64; larger than any
    /// tensor a single proof can hold today).
    pub max_tensor_elements: usize,
    /// Multiply-accumulate terms of one product of two computed tensors
    /// (activation x activation MatMul, Gemm), default 2^23: each term is a
    /// circuit product and several words while lowering, and a product of
    /// more terms needs more rows (k > 21 at 8 lanes) than one proof fits in
    /// 24 GiB today. Products with a constant operand (weights) are capped at
    /// 2^28 terms (`compiler::frontend::ops::linear::MAX_TERMS`).
    pub max_op_terms: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_file_bytes: 2 << 30, max_tensor_elements: 1 << 22, max_op_terms: 1 << 23 }
    }
}

static LIMITS: OnceLock<Limits> = OnceLock::new();

/// Sets this process's caps. Only the first setting counts, and only before
/// any cap is read: `false` if they were already fixed.
pub fn set(limits: Limits) -> bool {
    LIMITS.set(limits).is_ok()
}

/// This process's caps.
pub fn get() -> Limits {
    *LIMITS.get_or_init(Limits::default)
}

/// The cap on model, JSON, proof and program files, in bytes.
pub fn max_file_bytes() -> u64 {
    get().max_file_bytes
}

/// The cap on any tensor's element count.
pub fn max_tensor_elements() -> usize {
    get().max_tensor_elements
}

/// The cap on the terms of one product of two computed tensors.
pub fn max_op_terms() -> usize {
    get().max_op_terms
}

/// Reads a whole file, refusing what is not a regular file (a device such
/// as `/dev/zero`, a FIFO, a folder) and files over `cap` bytes, before
/// allocating. The error is an `io::Error` whose message names the problem;
/// callers add the path.
pub fn read_file(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind};
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let kind = if meta.is_dir() { "a folder" } else { "not a regular file (a device, FIFO or socket)" };
        return Err(Error::new(ErrorKind::InvalidInput, format!("is {kind}")));
    }
    if meta.len() > cap {
        return Err(over_cap(meta.len(), cap));
    }
    let f = std::fs::File::open(path)?;
    // The file may grow between the check and the read: never past the cap.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(over_cap(bytes.len() as u64, cap));
    }
    Ok(bytes)
}

/// [`read_file`] as UTF-8 text.
pub fn read_text(path: &Path, cap: u64) -> std::io::Result<String> {
    String::from_utf8(read_file(path, cap)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("is not UTF-8 text: {e}")))
}

fn over_cap(len: u64, cap: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("is {len} bytes, over the cap of {cap} bytes (raise it with ZKINFER_MAX_FILE_BYTES)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_folders_and_oversized_files() {
        #[cfg(unix)]
        {
            let e = read_file(Path::new("/dev/zero"), 1 << 20).unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
        }
        let dir = std::env::temp_dir();
        assert!(read_file(&dir, 1 << 20).unwrap_err().to_string().contains("folder"));
        let p = dir.join(format!("ir-limits-{}", std::process::id()));
        std::fs::write(&p, vec![7u8; 100]).unwrap();
        assert_eq!(read_file(&p, 100).unwrap().len(), 100);
        let e = read_file(&p, 99).unwrap_err().to_string();
        assert!(e.contains("100 bytes, over the cap of 99"), "{e}");
        std::fs::remove_file(&p).unwrap();
    }
}
