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
    parse_body(path, "proving key", body, shape, |mut r| {
        ProvingKey::read::<_, ModelCircuit>(&mut r, SerdeFormat::RawBytes, shape.clone())
    })
}

pub fn read_vk(path: &Path, shape: &CircuitShape, digest: &[u8; 32]) -> Result<VerifyingKey<G1Affine>, ProverError> {
    let bytes = artifact::read_large(path)?;
    let body = unframe(path, "verifying key", VK_MAGIC, digest, &bytes)?;
    parse_body(path, "verifying key", body, shape, |mut r| {
        VerifyingKey::read::<_, ModelCircuit>(&mut r, SerdeFormat::RawBytes, shape.clone())
    })
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
