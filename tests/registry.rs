//! `contracts/ModelRegistry.sol` through `zkinfer::registry`, against stub
//! verifiers written here (no real proof): approval, revocation, versions,
//! ownership, the verifier's verdict (false, revert, malformed return) and
//! the `InferenceAccepted` event.

use std::sync::OnceLock;

use halo2_proofs::halo2curves::bn256::Fr;
use verifier_gen::evm::{keccak256, Evm, Solc};
use zkinfer::registry::{fr_word, submit_calldata, InferenceAccepted, Registry, RegistryRevert, Submission, Word};

/// Stub verifiers, all `verifyProof(bytes, uint256[]) returns (bool)`.
const STUBS: &str = r#"
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// Accepts a proof whose first byte is 0x01.
contract StubVerifier {
    function verifyProof(bytes calldata proof, uint256[] calldata) external pure returns (bool) {
        return proof.length > 0 && proof[0] == 0x01;
    }
}

/// Reverts unless the proof's first byte is 0x01.
contract RevertingVerifier {
    function verifyProof(bytes calldata proof, uint256[] calldata) external pure returns (bool) {
        require(proof.length > 0 && proof[0] == 0x01, "bad proof");
        return true;
    }
}

/// Returns the word 2: neither an ABI true nor false.
contract MalformedVerifier {
    fallback() external {
        assembly {
            mstore(0, 2)
            return(0, 0x20)
        }
    }
}

/// Reverts with the word 1 (an ABI true, as revert data).
contract RevertTrueVerifier {
    fallback() external {
        assembly {
            mstore(0, 1)
            revert(0, 0x20)
        }
    }
}

/// Returns nothing.
contract SilentVerifier {
    fallback() external {}
}

/// Accepts exactly the proof that is the concatenation of the instances:
/// the registry forwards both untouched.
contract EchoVerifier {
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external pure returns (bool) {
        return keccak256(proof) == keccak256(abi.encodePacked(instances));
    }
}
"#;

const OWNER: [u8; 20] = [0x0a; 20];
const OTHER: [u8; 20] = [0x0b; 20];
const PARAMS_INDEX: usize = 1;
const GOOD: &[u8] = &[0x01, 0xaa, 0xbb];
const BAD: &[u8] = &[0x00, 0xaa, 0xbb];

fn word(tag: &str) -> Word {
    keccak256(tag.as_bytes())
}

/// `[input, commitment, output]`: the commitment at [`PARAMS_INDEX`].
fn instances(commitment: Word) -> Vec<Word> {
    vec![word("input"), commitment, word("output")]
}

struct Code {
    stubs: Vec<verifier_gen::evm::Compiled>,
    registry: Vec<u8>,
}

/// Compiled once for every test.
fn code() -> &'static Code {
    static CODE: OnceLock<Code> = OnceLock::new();
    CODE.get_or_init(|| {
        let solc = Solc::default();
        Code { stubs: solc.compile(STUBS).unwrap(), registry: Registry::creation_code(&solc).unwrap() }
    })
}

fn deploy_stub(evm: &mut Evm, name: &str) -> [u8; 20] {
    let c = code().stubs.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no stub {name}"));
    evm.deploy(&c.bytecode).unwrap().address
}

/// A fresh chain with a registry over the verifier `stub`, owned by [`OWNER`].
fn chain(stub: &str) -> (Evm, Registry) {
    let mut evm = Evm::new();
    let v = deploy_stub(&mut evm, stub);
    let (r, _) = Registry::deploy_code(&mut evm, &code().registry, v, PARAMS_INDEX, OWNER).unwrap();
    (evm, r)
}

fn approve(evm: &mut Evm, r: &Registry, c: Word, version: u64) {
    let res = r.approve(evm, OWNER, c, version, &format!("ipfs://model-v{version}")).unwrap();
    assert!(res.success, "approve v{version}: {:?}", RegistryRevert::of(&res));
}

fn rejected(s: &Submission) -> RegistryRevert {
    assert!(!s.call.success && s.accepted.is_none(), "accepted: {s:?}");
    s.revert().unwrap_or_else(|| panic!("not a registry error: {:02x?}", s.call.output))
}

#[test]
fn approved_commitment_is_accepted_with_its_event() {
    let solc = Solc::default();
    let mut evm = Evm::new();
    let v = deploy_stub(&mut evm, "StubVerifier");
    let (r, deploy_gas) = Registry::deploy(&mut evm, &solc, v, PARAMS_INDEX, OWNER).unwrap();
    assert_eq!(r.owner(&mut evm).unwrap(), OWNER);
    assert_eq!(r.verifier(&mut evm).unwrap(), v);
    assert_eq!(r.params_index(&mut evm).unwrap(), PARAMS_INDEX);

    let (c1, c2) = (word("weights-1"), word("weights-2"));
    let a1 = r.approve(&mut evm, OWNER, c1, 1, "ipfs://model-card-1").unwrap();
    assert!(a1.success);
    // Approved(bytes32 indexed commitment, uint64 version, string uri).
    let log = &a1.logs[0];
    assert_eq!(a1.logs.len(), 1);
    assert_eq!((log.address, log.topics.len()), (r.address, 2));
    assert_eq!(log.topics[0], keccak256(b"Approved(bytes32,uint64,string)"));
    assert_eq!(log.topics[1], c1);
    assert_eq!(log.data[31], 1);
    assert!(log.data.windows(19).any(|w| w == b"ipfs://model-card-1"));
    let a2 = r.approve(&mut evm, OWNER, c2, 2, "ipfs://model-card-2").unwrap();
    assert!(a2.success);
    assert_eq!(
        r.model(&mut evm, c1).unwrap(),
        zkinfer::registry::ModelEntry { version: 1, uri: "ipfs://model-card-1".into(), approved: true, revoked: false }
    );

    // Anyone may submit; the event carries the commitment, its version and every instance.
    let inst = instances(c1);
    let s1 = r.submit(&mut evm, OTHER, GOOD, &inst).unwrap();
    assert!(s1.call.returned_true());
    assert_eq!(s1.accepted, Some(InferenceAccepted { commitment: c1, version: 1, instances: inst }));
    let s2 = r.submit(&mut evm, OWNER, GOOD, &instances(c2)).unwrap();
    assert_eq!(s2.accepted, Some(InferenceAccepted { commitment: c2, version: 2, instances: instances(c2) }));

    let rv = r.revoke(&mut evm, OWNER, c1).unwrap();
    assert!(rv.success);
    assert_eq!(rv.logs[0].topics, vec![keccak256(b"Revoked(bytes32,uint64)"), c1]);
    assert_eq!(rv.logs[0].data[31], 1);
    let bad = r.submit(&mut evm, OTHER, BAD, &instances(c2)).unwrap();
    assert_eq!(rejected(&bad), RegistryRevert::ProofRejected);
    eprintln!(
        "registry gas: deploy {deploy_gas}, approve {}, approve (2nd) {}, submit (3 instances, stub verifier) {}, \
         revoke {}, rejected submit {}",
        a1.gas, a2.gas, s1.call.gas, rv.gas, bad.call.gas
    );
}

#[test]
fn unapproved_commitment_is_rejected() {
    let (mut evm, r) = chain("StubVerifier");
    let unknown = word("never approved");
    let s = r.submit(&mut evm, OTHER, GOOD, &instances(unknown)).unwrap();
    assert_eq!(rejected(&s), RegistryRevert::NotApproved(unknown));
    // An approved commitment elsewhere than at paramsIndex does not count.
    let c = word("weights");
    approve(&mut evm, &r, c, 1);
    let misplaced = vec![c, unknown, c];
    assert_eq!(rejected(&r.submit(&mut evm, OTHER, GOOD, &misplaced).unwrap()), RegistryRevert::NotApproved(unknown));
    assert!(r.submit(&mut evm, OTHER, GOOD, &instances(c)).unwrap().accepted.is_some());
    assert!(!r.is_approved(&mut evm, unknown).unwrap());
    assert_eq!(r.model(&mut evm, unknown).unwrap().version, 0);
}

#[test]
fn revoked_commitment_is_rejected_for_good() {
    let (mut evm, r) = chain("StubVerifier");
    let c = word("weights");
    approve(&mut evm, &r, c, 1);
    assert!(r.is_approved(&mut evm, c).unwrap());
    assert!(r.submit(&mut evm, OTHER, GOOD, &instances(c)).unwrap().accepted.is_some());
    assert!(r.revoke(&mut evm, OWNER, c).unwrap().success);
    assert!(!r.is_approved(&mut evm, c).unwrap());
    let m = r.model(&mut evm, c).unwrap();
    assert_eq!((m.version, m.approved, m.revoked), (1, true, true));
    assert_eq!(rejected(&r.submit(&mut evm, OTHER, GOOD, &instances(c)).unwrap()), RegistryRevert::Revoked(c));
    // Revocation is final: not twice, and no re-approval (even with a new version).
    assert_eq!(RegistryRevert::of(&r.revoke(&mut evm, OWNER, c).unwrap()), Some(RegistryRevert::Revoked(c)));
    let again = r.approve(&mut evm, OWNER, c, 2, "ipfs://again").unwrap();
    assert_eq!(RegistryRevert::of(&again), Some(RegistryRevert::AlreadyApproved(c)));
    assert!(!r.is_approved(&mut evm, c).unwrap());
    let unknown = word("unknown");
    assert_eq!(
        RegistryRevert::of(&r.revoke(&mut evm, OWNER, unknown).unwrap()),
        Some(RegistryRevert::NotApproved(unknown))
    );
}

#[test]
fn a_proof_the_verifier_rejects_is_rejected() {
    let c = word("weights");
    for stub in ["StubVerifier", "RevertingVerifier"] {
        let (mut evm, r) = chain(stub);
        approve(&mut evm, &r, c, 1);
        for proof in [BAD, &[][..], &[0x02]] {
            let s = r.submit(&mut evm, OTHER, proof, &instances(c)).unwrap();
            assert_eq!(rejected(&s), RegistryRevert::ProofRejected, "{stub}, proof {proof:02x?}");
        }
        assert!(r.submit(&mut evm, OTHER, GOOD, &instances(c)).unwrap().accepted.is_some(), "{stub}");
    }
    // A return that is not an ABI bool, none at all, or a revert whose data
    // reads as true, is a rejection.
    for stub in ["MalformedVerifier", "SilentVerifier", "RevertTrueVerifier"] {
        let (mut evm, r) = chain(stub);
        approve(&mut evm, &r, c, 1);
        assert_eq!(rejected(&r.submit(&mut evm, OTHER, GOOD, &instances(c)).unwrap()), RegistryRevert::ProofRejected);
    }
}

#[test]
fn the_verifier_sees_the_submitted_proof_and_instances() {
    let (mut evm, r) = chain("EchoVerifier");
    let c = word("weights");
    approve(&mut evm, &r, c, 1);
    let inst = instances(c);
    let echo: Vec<u8> = inst.concat();
    let s = r.submit(&mut evm, OTHER, &echo, &inst).unwrap();
    assert_eq!(s.accepted.map(|e| e.instances), Some(inst.clone()));
    let mut tampered = echo.clone();
    tampered[95] ^= 1;
    assert_eq!(rejected(&r.submit(&mut evm, OTHER, &tampered, &inst).unwrap()), RegistryRevert::ProofRejected);
    assert_eq!(rejected(&r.submit(&mut evm, OTHER, &echo[..95], &inst).unwrap()), RegistryRevert::ProofRejected);
}

#[test]
fn only_the_owner_approves_revokes_and_transfers() {
    let (mut evm, r) = chain("StubVerifier");
    let (c1, c2) = (word("weights-1"), word("weights-2"));
    let not_owner = Some(RegistryRevert::NotOwner);
    assert_eq!(RegistryRevert::of(&r.approve(&mut evm, OTHER, c1, 1, "x").unwrap()), not_owner);
    assert!(!r.is_approved(&mut evm, c1).unwrap());
    approve(&mut evm, &r, c1, 1);
    assert_eq!(RegistryRevert::of(&r.revoke(&mut evm, OTHER, c1).unwrap()), not_owner);
    assert!(r.is_approved(&mut evm, c1).unwrap());
    assert_eq!(RegistryRevert::of(&r.transfer_ownership(&mut evm, OTHER, OTHER).unwrap()), not_owner);
    assert_eq!(r.owner(&mut evm).unwrap(), OWNER);
    assert_eq!(
        RegistryRevert::of(&r.transfer_ownership(&mut evm, OWNER, [0; 20]).unwrap()),
        Some(RegistryRevert::ZeroAddress)
    );

    // After a transfer, the new owner governs and the old one does not.
    let t = r.transfer_ownership(&mut evm, OWNER, OTHER).unwrap();
    assert!(t.success);
    let who = |a: [u8; 20]| {
        let mut w = [0u8; 32];
        w[12..].copy_from_slice(&a);
        w
    };
    assert_eq!(t.logs[0].topics, vec![keccak256(b"OwnershipTransferred(address,address)"), who(OWNER), who(OTHER)]);
    assert_eq!(r.owner(&mut evm).unwrap(), OTHER);
    assert_eq!(RegistryRevert::of(&r.approve(&mut evm, OWNER, c2, 2, "x").unwrap()), not_owner);
    assert_eq!(RegistryRevert::of(&r.revoke(&mut evm, OWNER, c1).unwrap()), not_owner);
    assert!(r.approve(&mut evm, OTHER, c2, 2, "x").unwrap().success);
    assert!(r.revoke(&mut evm, OTHER, c1).unwrap().success);
    assert_eq!(r.approved_versions(&mut evm).unwrap(), vec![(c2, 2)]);
}

#[test]
fn versions_strictly_increase() {
    let (mut evm, r) = chain("StubVerifier");
    let (c1, c2, c3) = (word("weights-1"), word("weights-2"), word("weights-3"));
    let refused =
        |evm: &mut Evm, c: Word, version: u64| RegistryRevert::of(&r.approve(evm, OWNER, c, version, "").unwrap());
    assert_eq!(refused(&mut evm, c1, 0), Some(RegistryRevert::VersionNotIncreasing { version: 0, last: 0 }));
    approve(&mut evm, &r, c1, 5);
    assert_eq!(refused(&mut evm, c2, 5), Some(RegistryRevert::VersionNotIncreasing { version: 5, last: 5 }));
    assert_eq!(refused(&mut evm, c2, 3), Some(RegistryRevert::VersionNotIncreasing { version: 3, last: 5 }));
    assert_eq!(refused(&mut evm, c1, 9), Some(RegistryRevert::AlreadyApproved(c1)));
    assert!(!r.is_approved(&mut evm, c2).unwrap());
    approve(&mut evm, &r, c2, 6);
    // A revoked version stays used.
    assert!(r.revoke(&mut evm, OWNER, c2).unwrap().success);
    assert_eq!(refused(&mut evm, c3, 6), Some(RegistryRevert::VersionNotIncreasing { version: 6, last: 6 }));
    approve(&mut evm, &r, c3, u64::MAX);
    assert_eq!(r.model(&mut evm, c3).unwrap().version, u64::MAX);
}

#[test]
fn latest_and_approved_versions_follow_approvals_and_revocations() {
    let (mut evm, r) = chain("StubVerifier");
    assert_eq!(r.latest(&mut evm).unwrap(), None);
    assert_eq!(r.approved_versions(&mut evm).unwrap(), vec![]);
    let [c1, c2, c3, c4] = ["w1", "w2", "w3", "w4"].map(word);
    approve(&mut evm, &r, c1, 1);
    assert_eq!(r.latest(&mut evm).unwrap(), Some((c1, 1)));
    approve(&mut evm, &r, c2, 2);
    approve(&mut evm, &r, c3, 7);
    assert_eq!(r.latest(&mut evm).unwrap(), Some((c3, 7)));
    assert_eq!(r.approved_versions(&mut evm).unwrap(), vec![(c1, 1), (c2, 2), (c3, 7)]);
    assert!(r.revoke(&mut evm, OWNER, c3).unwrap().success);
    assert_eq!(r.latest(&mut evm).unwrap(), Some((c2, 2)));
    assert!(r.revoke(&mut evm, OWNER, c1).unwrap().success);
    assert_eq!(r.latest(&mut evm).unwrap(), Some((c2, 2)));
    assert_eq!(r.approved_versions(&mut evm).unwrap(), vec![(c2, 2)]);
    assert!(r.revoke(&mut evm, OWNER, c2).unwrap().success);
    assert_eq!(r.latest(&mut evm).unwrap(), None);
    assert_eq!(r.approved_versions(&mut evm).unwrap(), vec![]);
    approve(&mut evm, &r, c4, 10);
    assert_eq!(r.latest(&mut evm).unwrap(), Some((c4, 10)));
    assert_eq!(r.approved_versions(&mut evm).unwrap(), vec![(c4, 10)]);
}

#[test]
fn instances_without_a_params_entry_are_rejected() {
    let (mut evm, r) = chain("StubVerifier");
    let c = word("weights");
    approve(&mut evm, &r, c, 1);
    for n in 0..=PARAMS_INDEX {
        let short: Vec<Word> = instances(c)[..n].to_vec();
        let s = r.submit(&mut evm, OTHER, GOOD, &short).unwrap();
        assert_eq!(rejected(&s), RegistryRevert::InstancesTooShort { length: n as u64, params_index: 1 });
    }
    // Exactly paramsIndex + 1 instances suffice.
    let exact = instances(c)[..PARAMS_INDEX + 1].to_vec();
    assert_eq!(r.submit(&mut evm, OTHER, GOOD, &exact).unwrap().accepted.map(|e| e.instances), Some(exact));
}

#[test]
fn the_constructor_refuses_a_codeless_verifier_and_a_zero_owner() {
    let mut evm = Evm::new();
    let v = deploy_stub(&mut evm, "StubVerifier");
    assert!(Registry::deploy_code(&mut evm, &code().registry, [0x77; 20], 0, OWNER).is_err());
    assert!(Registry::deploy_code(&mut evm, &code().registry, v, 0, [0; 20]).is_err());
    let (r, _) = Registry::deploy_code(&mut evm, &code().registry, v, 0, OWNER).unwrap();
    assert_eq!(r.params_index(&mut evm).unwrap(), 0);
}

#[test]
fn field_element_instances_and_the_verifier_encoding() {
    // submit's body is the verifier's verifyProof(bytes, uint256[]) body.
    let frs: Vec<Fr> = [3u64, 12345, 1 << 40].into_iter().map(Fr::from).collect();
    let words: Vec<Word> = frs.iter().map(fr_word).collect();
    assert_eq!(words[1][30..], [0x30, 0x39]);
    assert!(words[1][..30].iter().all(|&b| b == 0));
    for len in [0, 1, 31, 32, 33, 100] {
        let proof: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
        let ours = submit_calldata(&proof, &words);
        let verifier = verifier_gen::encode_calldata(&proof, &frs);
        assert_eq!(ours[4..], verifier[4..], "proof of {len} bytes");
        assert_eq!(ours[..4], verifier_gen::evm::selector("submit(bytes,uint256[])"));
    }

    // A commitment given as a field element is the word the registry reads.
    let (mut evm, r) = chain("StubVerifier");
    approve(&mut evm, &r, fr_word(&frs[1]), 1);
    let s = r.submit_fr(&mut evm, OTHER, GOOD, &frs).unwrap();
    assert_eq!(s.accepted, Some(InferenceAccepted { commitment: words[1], version: 1, instances: words.clone() }));
    let other = [frs[0], Fr::from(54321), frs[2]];
    assert_eq!(
        rejected(&r.submit_fr(&mut evm, OTHER, GOOD, &other).unwrap()),
        RegistryRevert::NotApproved(fr_word(&other[1]))
    );
}
