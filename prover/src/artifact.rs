//! Atomic writes (never a half-written artifact) and hex encodings.

use std::{fs, io::Write, path::Path};

use halo2_proofs::halo2curves::{bn256::Fr, ff::PrimeField};

use crate::error::ProverError;

/// Writes `bytes` to `path` through a temporary file in the same folder and
/// a rename, so readers see the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ProverError> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// [`write_atomic`] for a file written piece by piece (a proving key is
/// streamed, never held twice in memory): `write` fills the temporary file,
/// which is synced and renamed only if it succeeds.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut fs::File) -> std::io::Result<()>,
) -> Result<(), ProverError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| ProverError::io(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    // Unique per call, not only per process: threads may write the same path
    // at once (e.g. two setups caching one SRS); the last rename wins whole.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    sweep_stale(dir, &name);
    let tmp = dir.join(format!(".{name}.tmp{}-{n}", std::process::id()));
    let res = (|| {
        let mut f = fs::File::create(&tmp)?;
        write(&mut f)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(ProverError::io(path, e));
    }
    Ok(())
}

/// Removes the temporary files of `name` left by writers that were killed
/// (SIGKILL, power loss) before their rename: those whose process is gone.
/// Linux only (it asks `/proc`); elsewhere they stay, hidden and harmless.
fn sweep_stale(dir: &Path, name: &str) {
    if !cfg!(target_os = "linux") || !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!(".{name}.tmp");
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Reads a program, settings or proof file: a regular file no larger than
/// [`ir::limits::max_file_bytes`].
pub fn read(path: &Path) -> Result<Vec<u8>, ProverError> {
    ir::limits::read_file(path, ir::limits::max_file_bytes()).map_err(|e| ProverError::io(path, e))
}

/// Reads a key or SRS file: any size (they are the operator's own artifacts,
/// checksummed before parsing), but a regular file (never a device).
pub fn read_large(path: &Path) -> Result<Vec<u8>, ProverError> {
    ir::limits::read_file(path, u64::MAX).map_err(|e| ProverError::io(path, e))
}

/// Opens a key file for streaming: a regular file (never a device, FIFO or
/// folder), with its length.
pub fn open_large(path: &Path) -> Result<(fs::File, u64), ProverError> {
    let io = |e| ProverError::io(path, e);
    let regular = |meta: &fs::Metadata| {
        if meta.is_file() {
            return Ok(());
        }
        let kind = if meta.is_dir() { "a folder" } else { "not a regular file (a device, FIFO or socket)" };
        Err(io(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("is {kind}"))))
    };
    // Checked before opening (opening a FIFO blocks) and on the opened file.
    regular(&fs::metadata(path).map_err(io)?)?;
    let f = fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    regular(&meta)?;
    Ok((f, meta.len()))
}

pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    // Digits only: `from_str_radix` alone would take a sign ("+f").
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// A field element as a 0x-prefixed 32-byte big-endian word (an EVM uint256).
pub fn fr_to_hex(f: &Fr) -> String {
    let mut r = f.to_repr();
    r.reverse();
    to_hex(&r)
}

/// Parses a 32-byte big-endian word; `None` if malformed or not below the modulus.
pub fn fr_from_hex(s: &str) -> Option<Fr> {
    let b = from_hex(s)?;
    if b.len() != 32 {
        return None;
    }
    let mut r = [0u8; 32];
    for (i, x) in b.iter().rev().enumerate() {
        r[i] = *x;
    }
    Option::from(Fr::from_repr(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_atomic_writes_of_one_path_all_succeed() {
        let dir = std::env::temp_dir().join(format!("zkinfer-atomic-{}", std::process::id()));
        let path = dir.join("same.bin");
        let handles: Vec<_> = (0..8u8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || write_atomic(&path, &[i; 4096]))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let got = std::fs::read(&path).unwrap();
        assert!(got.len() == 4096 && got.iter().all(|&b| b == got[0]), "a whole file from one writer");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary files left");
        std::fs::remove_dir_all(&dir).unwrap();
    }
    #[test]
    fn hex_roundtrip() {
        let f = -Fr::from(7);
        assert_eq!(fr_from_hex(&fr_to_hex(&f)), Some(f));
        assert_eq!(from_hex("0x00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(from_hex("0x0"), None);
        assert_eq!(fr_from_hex(&format!("0x{}", "ff".repeat(32))), None);
    }
}
