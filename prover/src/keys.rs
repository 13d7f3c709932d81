//! Proving and verifying keys, each file bound to the program it was made for.
//!
//! File layout: magic (8 bytes), program digest (32), keccak of the body (32),
//! body (halo2's RawBytes key encoding). The digest check catches a key from
//! another model; the body hash catches truncated or corrupted files before
//! halo2 parses them.

use std::{
    io::{Read, Seek, SeekFrom, Write},
    path::Path,
    sync::Arc,
};

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

/// Checks a key file's 72-byte header (magic, program digest); the
/// checksum is the caller's (over the body that follows).
fn check_header(
    path: &Path,
    what: &'static str,
    magic: &[u8; 8],
    digest: &[u8; 32],
    header: &[u8],
) -> Result<(), ProverError> {
    if header.len() < 72 || &header[..8] != magic {
        return Err(ProverError::BadFile {
            path: path.into(),
            what,
            reason: "missing header; not made by zkinfer setup".into(),
        });
    }
    if &header[8..40] != digest {
        return Err(ProverError::WrongKey {
            path: path.into(),
            what,
            got: artifact::to_hex(&header[8..40]),
            expected: artifact::to_hex(digest),
        });
    }
    Ok(())
}

fn unframe<'a>(
    path: &Path,
    what: &'static str,
    magic: &[u8; 8],
    digest: &[u8; 32],
    bytes: &'a [u8],
) -> Result<&'a [u8], ProverError> {
    check_header(path, what, magic, digest, bytes)?;
    let body = &bytes[72..];
    if Keccak256::digest(body).as_slice() != &bytes[40..72] {
        return Err(ProverError::BadFile {
            path: path.into(),
            what,
            reason: "body does not match its checksum: truncated or corrupted".into(),
        });
    }
    Ok(body)
}

pub fn pk_bytes(pk: &ProvingKey<G1Affine>, digest: &[u8; 32]) -> Vec<u8> {
    let mut body = Vec::new();
    pk.write(&mut body, SerdeFormat::RawBytes).expect("writing to a Vec cannot fail");
    frame(PK_MAGIC, digest, body)
}

/// Writes the framed proving key to `path` (atomically) without holding its
/// bytes in memory: a key at k = 20 is gigabytes, as large as the key
/// itself. The checksum is written last, over the header's placeholder.
/// Returns the file's length; the bytes are those of [`pk_bytes`].
pub fn write_pk(path: &Path, pk: &ProvingKey<G1Affine>, digest: &[u8; 32]) -> Result<u64, ProverError> {
    let mut len = 0;
    artifact::write_atomic_with(path, |f| {
        f.write_all(PK_MAGIC)?;
        f.write_all(digest)?;
        f.write_all(&[0u8; 32])?;
        let (hash, n) = {
            let mut w =
                HashWriter { inner: std::io::BufWriter::with_capacity(1 << 22, &mut *f), hash: Keccak256::new(), n: 0 };
            pk.write(&mut w, SerdeFormat::RawBytes)?;
            w.inner.flush()?;
            (w.hash.finalize(), w.n)
        };
        f.seek(SeekFrom::Start(40))?;
        f.write_all(&hash)?;
        len = 72 + n;
        Ok(())
    })?;
    Ok(len)
}

struct HashWriter<W> {
    inner: W,
    hash: Keccak256,
    n: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub fn vk_bytes(vk: &VerifyingKey<G1Affine>, digest: &[u8; 32]) -> Vec<u8> {
    let mut body = Vec::new();
    vk.write(&mut body, SerdeFormat::RawBytes).expect("writing to a Vec cannot fail");
    frame(VK_MAGIC, digest, body)
}

/// Reads a proving key streamed from its file, never holding the file's
/// bytes and the parsed key at once (a k = 20 key is gigabytes). One open
/// file for every pass (a rename by a concurrent setup cannot mix two
/// files): the checksum over the body, then the verifying key and a walk of
/// the declared polynomial lengths (seeking, no reads), then halo2's parser.
pub fn read_pk(path: &Path, shape: &CircuitShape, digest: &[u8; 32]) -> Result<ProvingKey<G1Affine>, ProverError> {
    const WHAT: &str = "proving key";
    let io = |e| ProverError::io(path, e);
    let bad = |reason: String| ProverError::BadFile { path: path.into(), what: WHAT, reason };
    let (file, len) = artifact::open_large(path)?;
    let mut r = std::io::BufReader::with_capacity(1 << 22, file);
    let mut header = [0u8; 72];
    if len < 72 {
        return Err(bad("missing header; not made by zkinfer setup".into()));
    }
    r.read_exact(&mut header).map_err(io)?;
    check_header(path, WHAT, PK_MAGIC, digest, &header)?;
    let mut hash = Keccak256::new();
    let mut buf = vec![0u8; 1 << 22];
    loop {
        let n = r.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    drop(buf);
    if hash.finalize().as_slice() != &header[40..72] {
        return Err(bad("body does not match its checksum: truncated or corrupted".into()));
    }
    let body_len = len - 72;
    r.seek(SeekFrom::Start(72)).map_err(io)?;
    let mut head = [0u8; 5];
    let got = r.read(&mut head).map_err(io)?;
    r.seek(SeekFrom::Start(72)).map_err(io)?;
    let mut counted = CountReader { inner: &mut r, n: 0 };
    let vk = parse_body(path, WHAT, &head[..got], shape, || {
        VerifyingKey::read::<_, ModelCircuit>(&mut counted, SerdeFormat::RawBytes, shape.clone())
    })?;
    check_vk(path, WHAT, &vk)?;
    let used = counted.n;
    scan_pk_polys(&mut r, body_len.saturating_sub(used), vk.get_domain().extended_k()).map_err(|e| match e {
        Scan::Io(e) => io(e),
        Scan::Bad(reason) => bad(reason),
    })?;
    drop(vk);
    r.seek(SeekFrom::Start(72)).map_err(io)?;
    let pk = parse_body(path, WHAT, &head[..got], shape, || {
        ProvingKey::read::<_, ModelCircuit>(&mut r, SerdeFormat::RawBytes, shape.clone())
    })?;
    check_vk(path, WHAT, pk.get_vk())?;
    Ok(pk)
}

struct CountReader<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for CountReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
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
    let mut r = body;
    let vk = parse_body(path, what, body, shape, || {
        VerifyingKey::read::<_, ModelCircuit>(&mut r, SerdeFormat::RawBytes, shape.clone())
    })?;
    let rest = r.len();
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

enum Scan {
    Io(std::io::Error),
    Bad(String),
}

/// Walks the polynomials of a proving key after its verifying key (RawBytes:
/// three polynomials, then four vectors of them; a polynomial is a u32 BE
/// length and that many 32-byte field elements) without allocating or
/// reading them (it seeks past them): each length must fit the circuit (at
/// most the extended domain, 2^extended_k) and the `left` bytes of the
/// body, and the walk must end at the end of the body.
fn scan_pk_polys<R: Read + Seek>(r: &mut std::io::BufReader<R>, left: u64, extended_k: u32) -> Result<(), Scan> {
    fn u32_be<R: Read>(r: &mut R, left: &mut u64, what: &str) -> Result<u64, Scan> {
        if *left < 4 {
            return Err(Scan::Bad(format!("the proving key ends inside {what}")));
        }
        let mut b = [0u8; 4];
        r.read_exact(&mut b).map_err(Scan::Io)?;
        *left -= 4;
        Ok(u64::from(u32::from_be_bytes(b)))
    }
    let max_len = 1u64 << extended_k;
    let poly = |r: &mut std::io::BufReader<R>, left: &mut u64, what: &str| -> Result<(), Scan> {
        let len = u32_be(r, left, what)?;
        if len > max_len {
            return Err(Scan::Bad(format!("{what} declares {len} coefficients; this circuit has at most {max_len}")));
        }
        let bytes = len * 32;
        if bytes > *left {
            return Err(Scan::Bad(format!("{what} declares {bytes} bytes, the file has {left} left")));
        }
        r.seek_relative(bytes as i64).map_err(Scan::Io)?;
        *left -= bytes;
        Ok(())
    };
    let mut left = left;
    for what in ["l0", "l_last", "l_active_row"] {
        poly(r, &mut left, what)?;
    }
    for what in ["fixed values", "fixed polynomials", "permutation values", "permutation polynomials"] {
        let count = u32_be(r, &mut left, what)?;
        // Each polynomial takes at least its 4-byte length.
        if count * 4 > left {
            return Err(Scan::Bad(format!("{what}: {count} polynomials declared, the file has {left} bytes left")));
        }
        for _ in 0..count {
            poly(r, &mut left, what)?;
        }
    }
    if left != 0 {
        return Err(Scan::Bad(format!("{left} bytes after the proving key")));
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
    head: &[u8],
    shape: &CircuitShape,
    parse: impl FnOnce() -> std::io::Result<T>,
) -> Result<T, ProverError> {
    let bad = |reason: String| ProverError::BadFile { path: path.into(), what, reason };
    if head.len() < 5 || head[0] != 0x02 {
        return Err(bad("unknown halo2 key encoding (version byte)".into()));
    }
    let k = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
    if k != shape.k {
        return Err(bad(format!("the key is for k = {k}, the compiled circuit has k = {}", shape.k)));
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)) {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(bad(e.to_string())),
        Err(_) => Err(bad("malformed key body (the parser stopped short)".into())),
    }
}
