//! Keccak transcript with the EVM encoding (that of snark-verifier's
//! `EvmTranscript`): points as uncompressed big-endian `(x, y)` 32-byte words,
//! scalars as big-endian 32-byte words, and each challenge
//! `keccak256(buffer) mod r`, where the buffer restarts from the last hash
//! (with a 0x01 byte appended when nothing else was absorbed since).

use std::io::{self, Read, Write};
use std::marker::PhantomData;

use halo2_proofs::{
    halo2curves::ff::{FromUniformBytes, PrimeField},
    halo2curves::{Coordinates, CurveAffine},
    transcript::{
        EncodedChallenge, Transcript, TranscriptRead, TranscriptReadBuffer, TranscriptWrite, TranscriptWriterBuffer,
    },
};
use sha3::{Digest, Keccak256};

/// A challenge read as a big-endian integer reduced mod r.
#[derive(Debug, Clone, Copy)]
pub struct ChallengeEvm<C: CurveAffine>(C::Scalar);

fn be_mod_r<F: PrimeField<Repr = [u8; 32]> + FromUniformBytes<64>>(be: &[u8; 32]) -> F {
    // from_uniform_bytes reduces a 512-bit little-endian integer mod r.
    let mut wide = [0u8; 64];
    for (i, b) in be.iter().rev().enumerate() {
        wide[i] = *b;
    }
    F::from_uniform_bytes(&wide)
}

impl<C: CurveAffine> EncodedChallenge<C> for ChallengeEvm<C>
where
    C::Scalar: PrimeField<Repr = [u8; 32]> + FromUniformBytes<64>,
{
    type Input = [u8; 32];
    fn new(input: &[u8; 32]) -> Self {
        ChallengeEvm(be_mod_r(input))
    }
    fn get_scalar(&self) -> C::Scalar {
        self.0
    }
}

#[derive(Debug)]
pub struct EvmTranscript<C: CurveAffine, S> {
    stream: S,
    buf: Vec<u8>,
    _marker: PhantomData<C>,
}

impl<C: CurveAffine, S> EvmTranscript<C, S> {
    pub fn new(stream: S) -> Self {
        EvmTranscript { stream, buf: Vec::new(), _marker: PhantomData }
    }
    pub fn into_inner(self) -> S {
        self.stream
    }
}

fn be32<F: PrimeField<Repr = [u8; 32]>>(f: &F) -> [u8; 32] {
    let mut r = f.to_repr();
    r.reverse();
    r
}

impl<C: CurveAffine, S> Transcript<C, ChallengeEvm<C>> for EvmTranscript<C, S>
where
    C::Scalar: PrimeField<Repr = [u8; 32]> + FromUniformBytes<64>,
    C::Base: PrimeField<Repr = [u8; 32]>,
{
    fn squeeze_challenge(&mut self) -> ChallengeEvm<C> {
        if self.buf.len() == 0x20 {
            self.buf.push(1);
        }
        let hash: [u8; 32] = Keccak256::digest(&self.buf).into();
        self.buf = hash.to_vec();
        ChallengeEvm::new(&hash)
    }

    fn common_point(&mut self, point: C) -> io::Result<()> {
        let c: Coordinates<C> =
            Option::from(point.coordinates()).ok_or_else(|| io::Error::other("cannot absorb the point at infinity"))?;
        self.buf.extend(be32(c.x()));
        self.buf.extend(be32(c.y()));
        Ok(())
    }

    fn common_scalar(&mut self, scalar: C::Scalar) -> io::Result<()> {
        self.buf.extend(be32(&scalar));
        Ok(())
    }
}

impl<C: CurveAffine, R: Read> TranscriptRead<C, ChallengeEvm<C>> for EvmTranscript<C, R>
where
    C::Scalar: PrimeField<Repr = [u8; 32]> + FromUniformBytes<64>,
    C::Base: PrimeField<Repr = [u8; 32]>,
{
    fn read_point(&mut self) -> io::Result<C> {
        let mut xy = [[0u8; 32]; 2];
        for w in xy.iter_mut() {
            self.stream.read_exact(w)?;
            w.reverse();
        }
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "invalid curve point in proof");
        let x: C::Base = Option::from(C::Base::from_repr(xy[0])).ok_or_else(bad)?;
        let y: C::Base = Option::from(C::Base::from_repr(xy[1])).ok_or_else(bad)?;
        let p: C = Option::from(C::from_xy(x, y)).ok_or_else(bad)?;
        self.common_point(p)?;
        Ok(p)
    }

    fn read_scalar(&mut self) -> io::Result<C::Scalar> {
        let mut w = [0u8; 32];
        self.stream.read_exact(&mut w)?;
        w.reverse();
        let s: C::Scalar = Option::from(C::Scalar::from_repr(w)).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "scalar in proof is not below the field modulus")
        })?;
        self.common_scalar(s)?;
        Ok(s)
    }
}

impl<C: CurveAffine, W: Write> TranscriptWrite<C, ChallengeEvm<C>> for EvmTranscript<C, W>
where
    C::Scalar: PrimeField<Repr = [u8; 32]> + FromUniformBytes<64>,
    C::Base: PrimeField<Repr = [u8; 32]>,
{
    fn write_point(&mut self, point: C) -> io::Result<()> {
        self.common_point(point)?;
        let c: Coordinates<C> =
            Option::from(point.coordinates()).ok_or_else(|| io::Error::other("cannot write the point at infinity"))?;
        self.stream.write_all(&be32(c.x()))?;
        self.stream.write_all(&be32(c.y()))
    }

    fn write_scalar(&mut self, scalar: C::Scalar) -> io::Result<()> {
        self.common_scalar(scalar)?;
        self.stream.write_all(&be32(&scalar))
    }
}

impl<C: CurveAffine, R: Read> TranscriptReadBuffer<R, C, ChallengeEvm<C>> for EvmTranscript<C, R>
where
    C::Scalar: PrimeField<Repr = [u8; 32]> + FromUniformBytes<64>,
    C::Base: PrimeField<Repr = [u8; 32]>,
{
    fn init(reader: R) -> Self {
        Self::new(reader)
    }
}

impl<C: CurveAffine, W: Write> TranscriptWriterBuffer<W, C, ChallengeEvm<C>> for EvmTranscript<C, W>
where
    C::Scalar: PrimeField<Repr = [u8; 32]> + FromUniformBytes<64>,
    C::Base: PrimeField<Repr = [u8; 32]>,
{
    fn init(writer: W) -> Self {
        Self::new(writer)
    }
    fn finalize(self) -> W {
        self.stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::halo2curves::bn256::{Fr, G1Affine};

    #[test]
    fn challenge_is_keccak_of_be_words_mod_r() {
        let mut t = EvmTranscript::<G1Affine, Vec<u8>>::new(vec![]);
        Transcript::<G1Affine, ChallengeEvm<G1Affine>>::common_scalar(&mut t, Fr::from(5)).unwrap();
        Transcript::<G1Affine, ChallengeEvm<G1Affine>>::common_scalar(&mut t, -Fr::from(1)).unwrap();
        let c = Transcript::<G1Affine, ChallengeEvm<G1Affine>>::squeeze_challenge(&mut t).get_scalar();
        let mut words = [0u8; 64];
        words[31] = 5;
        words[32..].copy_from_slice(&be32(&-Fr::from(1)));
        let h: [u8; 32] = Keccak256::digest(words).into();
        assert_eq!(c, be_mod_r::<Fr>(&h));
        // With exactly one 32-byte word buffered (here: the last hash), 0x01 is appended.
        let c2 = Transcript::<G1Affine, ChallengeEvm<G1Affine>>::squeeze_challenge(&mut t).get_scalar();
        let mut data = h.to_vec();
        data.push(1);
        let h2: [u8; 32] = Keccak256::digest(&data).into();
        assert_eq!(c2, be_mod_r::<Fr>(&h2));
    }
}
