//! The on-chain model registry (`contracts/ModelRegistry.sol`) and a typed
//! driver for it in the in-process EVM (`evm` feature).
//!
//! One verifier serves every retrained weight set of an architecture; the
//! proof's public instance at `params_index` is a Poseidon commitment to the
//! weights. The registry's owner approves (and revokes) commitments, and
//! `submit` accepts an inference only when the commitment is approved and the
//! verifier accepts the proof. What the contract guarantees, and what it
//! trusts, is written at the top of the contract.
//!
//! Words (`uint256`, `bytes32`) are 32 bytes, big-endian; a field element's
//! word is [`fr_word`] (what the verifier reads as an instance).

use halo2_proofs::halo2curves::{bn256::Fr, ff::PrimeField};
use verifier_gen::evm::{keccak256, selector, CallResult, Evm, Log, Solc};
use verifier_gen::GenError;

use crate::error::Error;

/// The registry's Solidity source.
pub const REGISTRY_SOL: &str = include_str!("../contracts/ModelRegistry.sol");
/// The registry's contract name in [`REGISTRY_SOL`].
pub const REGISTRY_NAME: &str = "ModelRegistry";
/// The registry of `--param-visibility polycommit` circuits in [`REGISTRY_SOL`]
/// (same interface; the commitment is read from the proof).
pub const POLYCOMMIT_REGISTRY_NAME: &str = "PolycommitModelRegistry";

/// A 20-byte account address.
pub type Address = [u8; 20];
/// A 32-byte ABI word (`uint256` / `bytes32`, big-endian).
pub type Word = [u8; 32];

/// The big-endian word of a field element (a params commitment, an instance).
pub fn fr_word(f: &Fr) -> Word {
    let mut w = f.to_repr();
    w.reverse();
    w
}

fn bad(reason: impl Into<String>) -> Error {
    Error::VerifierGen(GenError::Evm { reason: reason.into() })
}

fn u64_word(v: u64) -> Word {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

fn address_word(a: Address) -> Word {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(&a);
    w
}

/// Appends a dynamic `bytes`/`string` tail: length, then the data zero-padded to words.
fn push_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&u64_word(b.len() as u64));
    out.extend_from_slice(b);
    out.resize(out.len() + b.len().div_ceil(32) * 32 - b.len(), 0);
}

/// Calldata of `submit(bytes proof, uint256[] instances)`: the same ABI body
/// as the verifier's `verifyProof(bytes, uint256[])`
/// ([`verifier_gen::encode_calldata`]), under the registry's selector.
pub fn submit_calldata(proof: &[u8], instances: &[Word]) -> Vec<u8> {
    let mut out = selector("submit(bytes,uint256[])").to_vec();
    let padded = proof.len().div_ceil(32) * 32;
    out.extend_from_slice(&u64_word(0x40));
    out.extend_from_slice(&u64_word((0x60 + padded) as u64));
    push_bytes(&mut out, proof);
    out.extend_from_slice(&u64_word(instances.len() as u64));
    for w in instances {
        out.extend_from_slice(w);
    }
    out
}

/// Bounds-checked reads of ABI return data.
struct Abi<'a>(&'a [u8]);

impl Abi<'_> {
    fn slice(&self, at: usize, len: usize) -> Result<&[u8], Error> {
        at.checked_add(len)
            .and_then(|end| self.0.get(at..end))
            .ok_or_else(|| bad(format!("return data too short ({} bytes, {len} wanted at {at})", self.0.len())))
    }

    fn word(&self, at: usize) -> Result<Word, Error> {
        Ok(self.slice(at, 32)?.try_into().expect("32 bytes"))
    }

    /// `base` plus the offset word at `head`.
    fn offset(&self, base: usize, head: usize) -> Result<usize, Error> {
        base.checked_add(self.usize(head)?).ok_or_else(|| bad("offset overflows"))
    }

    fn u64(&self, at: usize) -> Result<u64, Error> {
        let w = self.word(at)?;
        if w[..24].iter().any(|&b| b != 0) {
            return Err(bad(format!("word at {at} exceeds u64")));
        }
        Ok(u64::from_be_bytes(w[24..].try_into().expect("8 bytes")))
    }

    fn usize(&self, at: usize) -> Result<usize, Error> {
        usize::try_from(self.u64(at)?).map_err(|_| bad("length exceeds usize"))
    }

    fn bool(&self, at: usize) -> Result<bool, Error> {
        match self.u64(at)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(bad(format!("word at {at} is not a bool ({v})"))),
        }
    }

    fn address(&self, at: usize) -> Result<Address, Error> {
        let w = self.word(at)?;
        if w[..12].iter().any(|&b| b != 0) {
            return Err(bad(format!("word at {at} is not an address")));
        }
        Ok(w[12..].try_into().expect("20 bytes"))
    }

    /// The dynamic `bytes`/`string` whose offset (from `base`) is at `head`.
    fn bytes(&self, base: usize, head: usize) -> Result<&[u8], Error> {
        let at = self.offset(base, head)?;
        let len = self.usize(at)?;
        self.slice(at + 32, len)
    }

    /// The dynamic 32-byte-element array whose offset (from `base`) is at `head`.
    fn words(&self, base: usize, head: usize) -> Result<Vec<Word>, Error> {
        let at = self.offset(base, head)?;
        let n = self.usize(at)?;
        let body = self.slice(at + 32, n.checked_mul(32).ok_or_else(|| bad("array length overflows"))?)?;
        Ok(body.chunks_exact(32).map(|c| c.try_into().expect("32 bytes")).collect())
    }
}

/// A custom error the registry reverted with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryRevert {
    NotOwner,
    NotApproved(Word),
    Revoked(Word),
    ProofRejected,
    InstancesTooShort { length: u64, params_index: u64 },
    VersionNotIncreasing { version: u64, last: u64 },
    AlreadyApproved(Word),
    ZeroAddress,
    VerifierHasNoCode(Address),
}

impl RegistryRevert {
    /// Decodes revert data (selector and arguments); `None` for anything else.
    pub fn decode(output: &[u8]) -> Option<RegistryRevert> {
        let sel: [u8; 4] = output.get(..4)?.try_into().ok()?;
        let args = Abi(&output[4..]);
        let is = |sig: &str| selector(sig) == sel;
        Some(if is("NotOwner()") {
            RegistryRevert::NotOwner
        } else if is("NotApproved(bytes32)") {
            RegistryRevert::NotApproved(args.word(0).ok()?)
        } else if is("Revoked(bytes32)") {
            RegistryRevert::Revoked(args.word(0).ok()?)
        } else if is("ProofRejected()") {
            RegistryRevert::ProofRejected
        } else if is("InstancesTooShort(uint256,uint256)") {
            RegistryRevert::InstancesTooShort { length: args.u64(0).ok()?, params_index: args.u64(32).ok()? }
        } else if is("VersionNotIncreasing(uint64,uint64)") {
            RegistryRevert::VersionNotIncreasing { version: args.u64(0).ok()?, last: args.u64(32).ok()? }
        } else if is("AlreadyApproved(bytes32)") {
            RegistryRevert::AlreadyApproved(args.word(0).ok()?)
        } else if is("ZeroAddress()") {
            RegistryRevert::ZeroAddress
        } else if is("VerifierHasNoCode(address)") {
            RegistryRevert::VerifierHasNoCode(args.address(0).ok()?)
        } else {
            return None;
        })
    }

    /// The registry error of a failed call (`None` when it succeeded or
    /// reverted otherwise).
    pub fn of(r: &CallResult) -> Option<RegistryRevert> {
        if r.success {
            None
        } else {
            RegistryRevert::decode(&r.output)
        }
    }
}

/// A decoded `InferenceAccepted(bytes32 indexed commitment, uint64 version, uint256[] instances)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InferenceAccepted {
    pub commitment: Word,
    pub version: u64,
    pub instances: Vec<Word>,
}

impl InferenceAccepted {
    /// The event's `topics[0]`.
    pub fn topic() -> Word {
        keccak256(b"InferenceAccepted(bytes32,uint64,uint256[])")
    }

    /// The event in `log`, if it is one emitted by `registry`.
    pub fn decode(registry: Address, log: &Log) -> Result<Option<InferenceAccepted>, Error> {
        if log.address != registry || log.topics.first() != Some(&Self::topic()) {
            return Ok(None);
        }
        let commitment = *log.topics.get(1).ok_or_else(|| bad("InferenceAccepted without its commitment topic"))?;
        let data = Abi(&log.data);
        Ok(Some(InferenceAccepted { commitment, version: data.u64(0)?, instances: data.words(0, 32)? }))
    }
}

/// What [`Registry::submit`] did.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The transaction (`call.gas`: its gas).
    pub call: CallResult,
    /// The registry's `InferenceAccepted` event: `Some` exactly when the
    /// submission was accepted.
    pub accepted: Option<InferenceAccepted>,
}

impl Submission {
    /// The registry error it reverted with (`None` when accepted).
    pub fn revert(&self) -> Option<RegistryRevert> {
        RegistryRevert::of(&self.call)
    }
}

/// One commitment's record (`model(bytes32)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelEntry {
    /// 0 when never approved.
    pub version: u64,
    pub uri: String,
    /// Approved once (still true after a revocation).
    pub approved: bool,
    pub revoked: bool,
}

/// A deployed `ModelRegistry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registry {
    pub address: Address,
}

impl Registry {
    /// The registry already deployed at `address`.
    pub fn at(address: Address) -> Registry {
        Registry { address }
    }

    /// Compiles [`REGISTRY_SOL`] and deploys it (from `evm.caller()`) for the
    /// `verifier` contract, with the params commitment at instance
    /// `params_index`, owned by `owner`: `(registry, deployment gas)`. The
    /// constructor refuses a verifier address without code and a zero owner.
    pub fn deploy(
        evm: &mut Evm,
        solc: &Solc,
        verifier: Address,
        params_index: usize,
        owner: Address,
    ) -> Result<(Registry, u64), Error> {
        Registry::deploy_code(evm, &Registry::creation_code(solc)?, verifier, params_index, owner)
    }

    /// The registry's creation code (without constructor arguments), to
    /// deploy several with [`Registry::deploy_code`] and one compilation.
    pub fn creation_code(solc: &Solc) -> Result<Vec<u8>, Error> {
        Registry::creation_code_of(solc, REGISTRY_NAME)
    }

    /// The creation code of contract `name` of [`REGISTRY_SOL`].
    pub fn creation_code_of(solc: &Solc, name: &str) -> Result<Vec<u8>, Error> {
        let compiled = solc
            .compile(REGISTRY_SOL)?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| GenError::Solc { reason: format!("solc output lacks contract {name}") })?;
        Ok(compiled.bytecode)
    }

    /// Deploys `PolycommitModelRegistry` for `verifier`, reading the
    /// commitment as `keccak256(proof[points.start..points.end])` (from
    /// [`crate::onchain::committed_points_range`]), owned by `owner`.
    pub fn deploy_polycommit(
        evm: &mut Evm,
        solc: &Solc,
        verifier: Address,
        points: std::ops::Range<usize>,
        owner: Address,
    ) -> Result<(Registry, u64), Error> {
        let mut code = Registry::creation_code_of(solc, POLYCOMMIT_REGISTRY_NAME)?;
        code.extend_from_slice(&address_word(verifier));
        code.extend_from_slice(&u64_word(points.start as u64));
        code.extend_from_slice(&u64_word(points.len() as u64));
        code.extend_from_slice(&address_word(owner));
        let d = evm.deploy(&code)?;
        Ok((Registry { address: d.address }, d.gas))
    }

    /// [`Registry::deploy`] from [`Registry::creation_code`]'s output.
    pub fn deploy_code(
        evm: &mut Evm,
        creation_code: &[u8],
        verifier: Address,
        params_index: usize,
        owner: Address,
    ) -> Result<(Registry, u64), Error> {
        let mut code = creation_code.to_vec();
        code.extend_from_slice(&address_word(verifier));
        code.extend_from_slice(&u64_word(params_index as u64));
        code.extend_from_slice(&address_word(owner));
        let d = evm.deploy(&code)?;
        Ok((Registry { address: d.address }, d.gas))
    }

    fn send(&self, evm: &mut Evm, from: Address, calldata: Vec<u8>) -> Result<CallResult, Error> {
        Ok(evm.call_from(from, self.address, calldata)?)
    }

    /// `approve(commitment, version, uri)` sent by `from`; a revert (e.g.
    /// [`RegistryRevert::NotOwner`]) is a result: see [`RegistryRevert::of`].
    pub fn approve(
        &self,
        evm: &mut Evm,
        from: Address,
        commitment: Word,
        version: u64,
        uri: &str,
    ) -> Result<CallResult, Error> {
        let mut cd = selector("approve(bytes32,uint64,string)").to_vec();
        cd.extend_from_slice(&commitment);
        cd.extend_from_slice(&u64_word(version));
        cd.extend_from_slice(&u64_word(0x60));
        push_bytes(&mut cd, uri.as_bytes());
        self.send(evm, from, cd)
    }

    /// `revoke(commitment)` sent by `from`.
    pub fn revoke(&self, evm: &mut Evm, from: Address, commitment: Word) -> Result<CallResult, Error> {
        let mut cd = selector("revoke(bytes32)").to_vec();
        cd.extend_from_slice(&commitment);
        self.send(evm, from, cd)
    }

    /// `transferOwnership(new_owner)` sent by `from`.
    pub fn transfer_ownership(&self, evm: &mut Evm, from: Address, new_owner: Address) -> Result<CallResult, Error> {
        let mut cd = selector("transferOwnership(address)").to_vec();
        cd.extend_from_slice(&address_word(new_owner));
        self.send(evm, from, cd)
    }

    /// `submit(proof, instances)` sent by `from`, with its decoded
    /// `InferenceAccepted` event when accepted. An error when the call
    /// succeeded without returning `true` and emitting the event.
    pub fn submit(&self, evm: &mut Evm, from: Address, proof: &[u8], instances: &[Word]) -> Result<Submission, Error> {
        let call = self.send(evm, from, submit_calldata(proof, instances))?;
        if !call.success {
            return Ok(Submission { call, accepted: None });
        }
        let mut events = Vec::new();
        for log in &call.logs {
            events.extend(InferenceAccepted::decode(self.address, log)?);
        }
        if !call.returned_true() || events.len() != 1 {
            return Err(bad(format!(
                "submit succeeded but returned {:02x?} with {} InferenceAccepted events",
                call.output,
                events.len()
            )));
        }
        Ok(Submission { call, accepted: events.pop() })
    }

    /// [`Registry::submit`] with field-element instances (a proof's).
    pub fn submit_fr(&self, evm: &mut Evm, from: Address, proof: &[u8], instances: &[Fr]) -> Result<Submission, Error> {
        let words: Vec<Word> = instances.iter().map(fr_word).collect();
        self.submit(evm, from, proof, &words)
    }

    /// The return data of a view (sent by `evm.caller()`); an error if it reverts.
    fn view(&self, evm: &mut Evm, signature: &str, args: &[Word]) -> Result<Vec<u8>, Error> {
        let mut cd = selector(signature).to_vec();
        for a in args {
            cd.extend_from_slice(a);
        }
        let r = evm.call(self.address, cd)?;
        if !r.success {
            return Err(bad(format!("{signature} reverted: {:02x?}", r.output)));
        }
        Ok(r.output)
    }

    /// Approved and not revoked.
    pub fn is_approved(&self, evm: &mut Evm, commitment: Word) -> Result<bool, Error> {
        Abi(&self.view(evm, "isApproved(bytes32)", &[commitment])?).bool(0)
    }

    /// The record of `commitment` (all zero/empty when never approved).
    pub fn model(&self, evm: &mut Evm, commitment: Word) -> Result<ModelEntry, Error> {
        let out = self.view(evm, "model(bytes32)", &[commitment])?;
        let a = Abi(&out);
        let uri = String::from_utf8(a.bytes(0, 32)?.to_vec()).map_err(|_| bad("model uri is not UTF-8"))?;
        Ok(ModelEntry { version: a.u64(0)?, uri, approved: a.bool(64)?, revoked: a.bool(96)? })
    }

    /// The approved, non-revoked commitments with their versions, in version order.
    pub fn approved_versions(&self, evm: &mut Evm) -> Result<Vec<(Word, u64)>, Error> {
        let out = self.view(evm, "approvedVersions()", &[])?;
        let a = Abi(&out);
        let commitments = a.words(0, 0)?;
        let versions = a.words(0, 32)?;
        if commitments.len() != versions.len() {
            return Err(bad("approvedVersions: arrays of different lengths"));
        }
        versions.iter().zip(commitments).map(|(v, c)| Ok((c, Abi(v).u64(0)?))).collect()
    }

    /// The highest-version approved, non-revoked commitment, if any.
    pub fn latest(&self, evm: &mut Evm) -> Result<Option<(Word, u64)>, Error> {
        let out = self.view(evm, "latest()", &[])?;
        let a = Abi(&out);
        let version = a.u64(32)?;
        Ok((version != 0).then_some((a.word(0)?, version)))
    }

    pub fn owner(&self, evm: &mut Evm) -> Result<Address, Error> {
        Abi(&self.view(evm, "owner()", &[])?).address(0)
    }

    pub fn verifier(&self, evm: &mut Evm) -> Result<Address, Error> {
        Abi(&self.view(evm, "verifier()", &[])?).address(0)
    }

    pub fn params_index(&self, evm: &mut Evm) -> Result<usize, Error> {
        Abi(&self.view(evm, "paramsIndex()", &[])?).usize(0)
    }
}
