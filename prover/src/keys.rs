//! Proving and verifying keys, each file bound to the program it was made for.
//!
//! File layout: magic (8 bytes), program digest (32), keccak of the body (32),
//! body (halo2's RawBytes key encoding). The digest check catches a key from
//! another model; the body hash catches truncated or corrupted files before
//! halo2 parses them.

use std::{path::Path, sync::Arc};

use circuits::{CircuitShape, ModelCircuit};
use halo2_proofs::{
    plonk::{keygen_pk, keygen_vk, ProvingKey, VerifyingKey},
    SerdeFormat,
};
use ir::Program;
use sha3::{Digest, Keccak256};

use crate::{artifact, error::ProverError, Bn256, G1Affine, ParamsKZG};

const PK_MAGIC: &[u8; 8] = b"ZKIPK\x00\x00\x01";
const VK_MAGIC: &[u8; 8] = b"ZKIVK\x00\x00\x01";

/// Identifies a program and the circuit shape it is laid out in.
/// With witness parameters only the architecture is hashed
/// ([`Program::architecture`]): every weight set of it has the same keys.
pub fn digest(program: &Program, shape: &CircuitShape) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(program.architecture().to_bytes());
    h.update(serde_json::to_vec(shape).expect("shape serializes"));
    h.finalize().into()
}

pub struct Keys {
    pub pk: ProvingKey<G1Affine>,
}

impl Keys {
    pub fn vk(&self) -> &VerifyingKey<G1Affine> {
        self.pk.get_vk()
    }
}

pub fn keygen(params: &ParamsKZG<Bn256>, program: Arc<Program>, shape: &CircuitShape) -> Result<Keys, ProverError> {
    shape.check(&program)?;
    let circuit = ModelCircuit::for_keygen(program, shape.clone());
    let vk = keygen_vk(params, &circuit).map_err(|e| ProverError::Keygen(format!("{e:?}")))?;
    let pk = keygen_pk(params, vk, &circuit).map_err(|e| ProverError::Keygen(format!("{e:?}")))?;
    Ok(Keys { pk })
}

fn frame(magic: &[u8; 8], digest: &[u8; 32], body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(72 + body.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(digest);
    out.extend_from_slice(&Keccak256::digest(&body));
    out.extend(body);
    out
}

fn unframe<'a>(
    path: &Path,
    what: &'static str,
    magic: &[u8; 8],
    digest: &[u8; 32],
    bytes: &'a [u8],
) -> Result<&'a [u8], ProverError> {
    let bad = |reason: &str| ProverError::BadFile { path: path.into(), what, reason: reason.into() };
    if bytes.len() < 72 || &bytes[..8] != magic {
        return Err(bad("missing header; not made by zkinfer setup"));
    }
    if &bytes[8..40] != digest {
        return Err(ProverError::WrongKey {
            path: path.into(),
            what,
            got: artifact::to_hex(&bytes[8..40]),
            expected: artifact::to_hex(digest),
        });
    }
    let body = &bytes[72..];
    if Keccak256::digest(body).as_slice() != &bytes[40..72] {
        return Err(bad("body does not match its checksum: truncated or corrupted"));
    }
    Ok(body)
}

pub fn pk_bytes(pk: &ProvingKey<G1Affine>, digest: &[u8; 32]) -> Vec<u8> {
    let mut body = Vec::new();
    pk.write(&mut body, SerdeFormat::RawBytes).expect("writing to a Vec cannot fail");
    frame(PK_MAGIC, digest, body)
}

pub fn vk_bytes(vk: &VerifyingKey<G1Affine>, digest: &[u8; 32]) -> Vec<u8> {
    let mut body = Vec::new();
    vk.write(&mut body, SerdeFormat::RawBytes).expect("writing to a Vec cannot fail");
    frame(VK_MAGIC, digest, body)
}

pub fn read_pk(path: &Path, shape: &CircuitShape, digest: &[u8; 32]) -> Result<ProvingKey<G1Affine>, ProverError> {
    let bytes = artifact::read_large(path)?;
    let body = unframe(path, "proving key", PK_MAGIC, digest, &bytes)?;
    // The verifying key leads the body; what follows is polynomials whose
    // declared lengths halo2 allocates before reading: walk them first.
    let vk = read_vk_body(path, "proving key", body, shape)?;
    let mut rest = &body[vk.1..];
    scan_pk_polys(&mut rest, vk.0.get_domain().extended_k()).map_err(|reason| ProverError::BadFile {
        path: path.into(),
        what: "proving key",
        reason,
    })?;
    let pk = parse_body(path, "proving key", body, shape, |mut r| {
        ProvingKey::read::<_, ModelCircuit>(&mut r, SerdeFormat::RawBytes, shape.clone())
    })?;
    check_vk(path, "proving key", pk.get_vk())?;
    Ok(pk)
}

pub fn read_vk(path: &Path, shape: &CircuitShape, digest: &[u8; 32]) -> Result<VerifyingKey<G1Affine>, ProverError> {
    let bytes = artifact::read_large(path)?;
    let body = unframe(path, "verifying key", VK_MAGIC, digest, &bytes)?;
    let (vk, used) = read_vk_body(path, "verifying key", body, shape)?;
    if used != body.len() {
        return Err(ProverError::BadFile {
            path: path.into(),
            what: "verifying key",
            reason: format!("{} bytes after the key", body.len() - used),
        });
    }
    Ok(vk)
}

/// The verifying key at the start of `body`, checked, and its length.
fn read_vk_body(
    path: &Path,
    what: &'static str,
    body: &[u8],
    shape: &CircuitShape,
) -> Result<(VerifyingKey<G1Affine>, usize), ProverError> {
    let (vk, rest) = parse_body(path, what, body, shape, |mut r| {
        let vk = VerifyingKey::read::<_, ModelCircuit>(&mut r, SerdeFormat::RawBytes, shape.clone())?;
        Ok((vk, r.len()))
    })?;
    check_vk(path, what, &vk)?;
    Ok((vk, body.len() - rest))
}

/// What halo2's verifier indexes without checking: one commitment per fixed
/// column of the constraint system (the count is read from the file, the
/// system is rebuilt from the circuit) and per permutation column.
fn check_vk(path: &Path, what: &'static str, vk: &VerifyingKey<G1Affine>) -> Result<(), ProverError> {
    let (fixed, want_fixed) = (vk.fixed_commitments().len(), vk.cs().num_fixed_columns());
    let (perm, want_perm) = (vk.permutation().commitments().len(), vk.cs().permutation().get_columns().len());
    if fixed != want_fixed || perm != want_perm {
        return Err(ProverError::BadFile {
            path: path.into(),
            what,
            reason: format!(
                "the key has {fixed} fixed and {perm} permutation commitments, the circuit needs {want_fixed} and {want_perm}"
            ),
        });
    }
    Ok(())
}

/// Walks the polynomials of a proving key after its verifying key (RawBytes:
/// three polynomials, then four vectors of them; a polynomial is a u32 BE
/// length and that many 32-byte field elements) without allocating: each
/// length must fit the circuit (at most the extended domain, 2^extended_k)
/// and the bytes left, and the walk must end at the end of the body.
fn scan_pk_polys(rest: &mut &[u8], extended_k: u32) -> Result<(), String> {
    fn u32_be(rest: &mut &[u8], what: &str) -> Result<u64, String> {
        if rest.len() < 4 {
            return Err(format!("the proving key ends inside {what}"));
        }
        let v = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        *rest = &rest[4..];
        Ok(u64::from(v))
    }
    let max_len = 1u64 << extended_k;
    let poly = |rest: &mut &[u8], what: &str| -> Result<(), String> {
        let len = u32_be(rest, what)?;
        if len > max_len {
            return Err(format!("{what} declares {len} coefficients; this circuit has at most {max_len}"));
        }
        let bytes = len * 32;
        if bytes > rest.len() as u64 {
            return Err(format!("{what} declares {bytes} bytes, the file has {} left", rest.len()));
        }
        *rest = &rest[bytes as usize..];
        Ok(())
    };
    for what in ["l0", "l_last", "l_active_row"] {
        poly(rest, what)?;
    }
    for what in ["fixed values", "fixed polynomials", "permutation values", "permutation polynomials"] {
        let count = u32_be(rest, what)?;
        // Each polynomial takes at least its 4-byte length.
        if count * 4 > rest.len() as u64 {
            return Err(format!("{what}: {count} polynomials declared, the file has {} bytes left", rest.len()));
        }
        for _ in 0..count {
            poly(rest, what)?;
        }
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes after the proving key", rest.len()));
    }
    Ok(())
}

/// Runs halo2's key parser on a checksummed body. The body's own `k` (bytes
/// 1..5 after the version byte) must be the shape's, checked before halo2
/// sizes anything by it; halo2's parser `unwrap`s on short reads, so a
/// panic is caught and reported as a bad file rather than taken down with.
fn parse_body<T>(
    path: &Path,
    what: &'static str,
    body: &[u8],
    shape: &CircuitShape,
    parse: impl FnOnce(&[u8]) -> std::io::Result<T>,
) -> Result<T, ProverError> {
    let bad = |reason: String| ProverError::BadFile { path: path.into(), what, reason };
    if body.len() < 5 || body[0] != 0x02 {
        return Err(bad("unknown halo2 key encoding (version byte)".into()));
    }
    let k = u32::from_le_bytes([body[1], body[2], body[3], body[4]]);
    if k != shape.k {
        return Err(bad(format!("the key is for k = {k}, the compiled circuit has k = {}", shape.k)));
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(body))) {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(bad(e.to_string())),
        Err(_) => Err(bad("malformed key body (the parser stopped short)".into())),
    }
}
