//! KZG structured reference strings: a deterministic development SRS (not
//! secure: its toxic waste is derivable from a public seed), and SRS files.

use std::path::Path;

use halo2_proofs::{
    poly::{commitment::Params, kzg::commitment::ParamsKZG},
    SerdeFormat,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::{artifact, error::ProverError, Bn256};

/// Largest k we accept in an SRS file (2^26 points is 4 GiB in RawBytes).
pub const MAX_SRS_K: u32 = 26;
const DEV_SEED: u64 = 0x7a6b_696e_6665_7200; // "zkinfer\0"

/// The development SRS for `k`: deterministic, so every machine derives the
/// same keys, and insecure for the same reason.
pub fn dev_srs(k: u32) -> ParamsKZG<Bn256> {
    ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::seed_from_u64(DEV_SEED))
}

pub fn to_bytes(params: &ParamsKZG<Bn256>) -> Vec<u8> {
    let mut buf = Vec::new();
    params.write_custom(&mut buf, SerdeFormat::RawBytes).expect("writing to a Vec cannot fail");
    buf
}

pub fn write(path: &Path, params: &ParamsKZG<Bn256>) -> Result<(), ProverError> {
    artifact::write_atomic(path, &to_bytes(params))
}

/// Reads a halo2 KZG params file (RawBytes, RawBytesUnchecked or Processed),
/// checking its size before parsing, and downsizes it to `need_k` when larger.
pub fn read(path: &Path, need_k: u32) -> Result<ParamsKZG<Bn256>, ProverError> {
    let bytes = artifact::read_large(path)?;
    let bad = |reason: String| ProverError::BadFile { path: path.into(), what: "SRS", reason };
    if bytes.len() < 4 {
        return Err(bad("too short".into()));
    }
    let k = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if k > MAX_SRS_K {
        return Err(bad(format!("k = {k} is larger than {MAX_SRS_K}")));
    }
    if k < need_k {
        return Err(ProverError::SrsTooSmall { path: path.into(), got: k, need: need_k });
    }
    let n = 1usize << k;
    let raw_len = 4 + 2 * n * 64 + 2 * 128;
    let processed_len = 4 + 2 * n * 32 + 2 * 64;
    let format = if bytes.len() == raw_len {
        SerdeFormat::RawBytes
    } else if bytes.len() == processed_len {
        SerdeFormat::Processed
    } else {
        return Err(bad(format!(
            "{} bytes; a k = {k} file has {raw_len} (raw) or {processed_len} (processed) bytes: truncated or not an SRS",
            bytes.len()
        )));
    };
    let mut params = ParamsKZG::<Bn256>::read_custom(&mut bytes.as_slice(), format).map_err(|e| bad(e.to_string()))?;
    if params.k() > need_k {
        params.downsize(need_k);
    }
    Ok(params)
}

/// An SRS for `k` from a cache folder, made (and cached) when missing.
pub fn cached_dev_srs(cache_dir: &Path, k: u32) -> Result<ParamsKZG<Bn256>, ProverError> {
    let path = cache_dir.join(format!("dev-k{k}.srs"));
    if let Ok(p) = read(&path, k) {
        return Ok(p);
    }
    // A larger cached SRS downsizes faster than a new one is made; the
    // result is cached under its own k, since downsizing is not free either.
    for bigger in k + 1..=MAX_SRS_K {
        let p = cache_dir.join(format!("dev-k{bigger}.srs"));
        if p.exists() {
            if let Ok(params) = read(&p, k) {
                write(&path, &params)?;
                return Ok(params);
            }
        }
    }
    let params = dev_srs(k);
    write(&path, &params)?;
    Ok(params)
}
