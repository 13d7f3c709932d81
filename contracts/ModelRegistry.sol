// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

/// The zkinfer verifier's entry point (the self-contained form,
/// `verifier_gen::render_verifier`).
interface IVerifier {
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external view returns (bool);
}

/// ModelRegistry's errors, in their own scope: `Revoked` is both an error and
/// an event of the registry, and Solidity does not allow both names in one
/// contract. The selectors are the plain ones (`Revoked(bytes32)`...).
library ModelRegistryErrors {
    /// The caller is not the owner.
    error NotOwner();
    /// `commitment` was never approved.
    error NotApproved(bytes32 commitment);
    /// `commitment` was approved, then revoked.
    error Revoked(bytes32 commitment);
    /// The verifier returned false, reverted, or returned something other than
    /// an ABI `true`.
    error ProofRejected();
    /// `instances` has no entry at `paramsIndex`.
    error InstancesTooShort(uint256 length, uint256 paramsIndex);
    /// Versions must be strictly greater than every version approved before.
    error VersionNotIncreasing(uint64 version, uint64 last);
    /// `commitment` was approved before (revoked or not): a commitment is
    /// approved at most once.
    error AlreadyApproved(bytes32 commitment);
    /// The owner may not be the zero address (there is no renouncing).
    error ZeroAddress();
    /// The verifier address holds no code.
    error VerifierHasNoCode(address verifier);
    /// `proof` is shorter than the committed weight columns' points it must
    /// carry (`PolycommitModelRegistry`).
    error ProofTooShort(uint256 length, uint256 needed);
}

/// ModelRegistry (the base of both registries below): accepts an inference
/// when its proof verifies and the proof's parameter commitment is one the
/// owner approved.
///
/// One circuit, one verifying key and one deployed verifier serve every
/// retrained weight set of a model architecture; the proof carries a
/// commitment to the weights (`commitmentOf`): a Poseidon commitment among
/// its public instances at `paramsIndex` (`ModelRegistry`, a BN254 field
/// element read as `bytes32`, big-endian), or the keccak256 of the committed
/// weight columns' points in the proof (`PolycommitModelRegistry`). The owner (an EOA, a multisig or a
/// DAO governor: only an address here) approves commitments, each with a
/// version and a model-card URI, and may revoke them.
///
/// Guarantees:
/// - `submit` returns true and emits `InferenceAccepted` only if
///   `commitmentOf(proof, instances)` was approved and not revoked at that moment, and
///   `verifier.verifyProof(proof, instances)` returned an ABI `true` (a revert,
///   `false` or any other return data is a rejection).
/// - Versions strictly increase in approval order; `latest()` is the most
///   recently approved commitment that is not revoked.
/// - Revocation is final: a revoked commitment cannot be approved again (and
///   an approved one cannot be approved twice). Publishing the same weights
///   again needs a new commitment (the circuit's commitment, not this
///   contract, decides whether that is possible).
///
/// Not guaranteed (trusted or left to the consumer):
/// - The verifier: the registry trusts the verifier address it was built with
///   (immutable), and that its circuit puts the weights' commitment where
///   `commitmentOf` reads it. A wrong or unsound verifier defeats the registry.
/// - What a commitment stands for: the owner vouches for it; the URI is not
///   checked, and the owner's key is the root of trust.
/// - Uniqueness: the same proof can be submitted again (no replay protection);
///   a consumer that needs it binds a nonce or request id in the instances.
/// - Retroactivity: revoking does not undo earlier `InferenceAccepted` events.
/// - Anything about the other instances (inputs, outputs): the consumer reads
///   them from the event or its own call.
///
/// The views `approvedVersions` and `latest` walk every approval (linear in
/// their number): meant for off-chain reads and short registries.
abstract contract ModelRegistryBase {
    struct Model {
        uint64 version;
        bool approved;
        bool revoked;
        string uri;
    }

    address public immutable verifier;
    address public owner;

    /// Per commitment; `version == 0` means never approved (versions start at 1).
    mapping(bytes32 => Model) private models;
    /// Every approved commitment, in approval (hence version) order.
    bytes32[] private history;
    /// The highest version approved so far (0: none).
    uint64 public lastVersion;

    event Approved(bytes32 indexed commitment, uint64 version, string uri);
    event Revoked(bytes32 indexed commitment, uint64 version);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event InferenceAccepted(bytes32 indexed commitment, uint64 version, uint256[] instances);

    modifier onlyOwner() {
        if (msg.sender != owner) revert ModelRegistryErrors.NotOwner();
        _;
    }

    constructor(address verifier_, address owner_) {
        if (verifier_.code.length == 0) revert ModelRegistryErrors.VerifierHasNoCode(verifier_);
        if (owner_ == address(0)) revert ModelRegistryErrors.ZeroAddress();
        verifier = verifier_;
        owner = owner_;
        emit OwnershipTransferred(address(0), owner_);
    }

    /// The parameter commitment `proof` and `instances` carry (reverts when
    /// they cannot carry one).
    function commitmentOf(bytes calldata proof, uint256[] calldata instances) public view virtual returns (bytes32);

    /// Approves `commitment` as `version` (greater than every earlier
    /// version), with a model-card `uri`.
    function approve(bytes32 commitment, uint64 version, string calldata uri) external onlyOwner {
        Model storage m = models[commitment];
        if (m.approved) revert ModelRegistryErrors.AlreadyApproved(commitment);
        if (version <= lastVersion) revert ModelRegistryErrors.VersionNotIncreasing(version, lastVersion);
        m.version = version;
        m.approved = true;
        m.uri = uri;
        lastVersion = version;
        history.push(commitment);
        emit Approved(commitment, version, uri);
    }

    /// Revokes an approved commitment, for good.
    function revoke(bytes32 commitment) external onlyOwner {
        Model storage m = models[commitment];
        if (!m.approved) revert ModelRegistryErrors.NotApproved(commitment);
        if (m.revoked) revert ModelRegistryErrors.Revoked(commitment);
        m.revoked = true;
        emit Revoked(commitment, m.version);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ModelRegistryErrors.ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// Accepts the inference proven by `proof` over `instances`, or reverts.
    function submit(bytes calldata proof, uint256[] calldata instances) external returns (bool) {
        bytes32 commitment = commitmentOf(proof, instances);
        Model storage m = models[commitment];
        if (!m.approved) revert ModelRegistryErrors.NotApproved(commitment);
        if (m.revoked) revert ModelRegistryErrors.Revoked(commitment);
        (bool ok, bytes memory ret) = verifier.staticcall(abi.encodeCall(IVerifier.verifyProof, (proof, instances)));
        if (!ok || ret.length != 32 || abi.decode(ret, (uint256)) != 1) revert ModelRegistryErrors.ProofRejected();
        emit InferenceAccepted(commitment, m.version, instances);
        return true;
    }

    function isApproved(bytes32 commitment) external view returns (bool) {
        Model storage m = models[commitment];
        return m.approved && !m.revoked;
    }

    /// `approved`: the owner approved it once (still true after a revocation).
    function model(bytes32 commitment)
        external
        view
        returns (uint64 version, string memory uri, bool approved, bool revoked)
    {
        Model storage m = models[commitment];
        return (m.version, m.uri, m.approved, m.revoked);
    }

    /// The approved, non-revoked commitments and their versions, in version order.
    function approvedVersions() external view returns (bytes32[] memory commitments, uint64[] memory versions) {
        uint256 n = 0;
        for (uint256 i = 0; i < history.length; i++) {
            if (!models[history[i]].revoked) n++;
        }
        commitments = new bytes32[](n);
        versions = new uint64[](n);
        uint256 j = 0;
        for (uint256 i = 0; i < history.length; i++) {
            Model storage m = models[history[i]];
            if (!m.revoked) {
                commitments[j] = history[i];
                versions[j] = m.version;
                j++;
            }
        }
    }

    /// The highest-version approved, non-revoked commitment; `(0, 0)` when there is none.
    function latest() external view returns (bytes32 commitment, uint64 version) {
        for (uint256 i = history.length; i > 0; i--) {
            Model storage m = models[history[i - 1]];
            if (!m.revoked) return (history[i - 1], m.version);
        }
        return (bytes32(0), 0);
    }
}

/// The registry of a circuit with the weights' Poseidon commitment among
/// its public instances (`--param-visibility hashed`): the commitment is
/// `instances[paramsIndex]`.
contract ModelRegistry is ModelRegistryBase {
    uint256 public immutable paramsIndex;

    constructor(address verifier_, uint256 paramsIndex_, address owner_) ModelRegistryBase(verifier_, owner_) {
        paramsIndex = paramsIndex_;
    }

    function commitmentOf(bytes calldata, uint256[] calldata instances) public view override returns (bytes32) {
        if (instances.length <= paramsIndex) {
            revert ModelRegistryErrors.InstancesTooShort(instances.length, paramsIndex);
        }
        return bytes32(instances[paramsIndex]);
    }
}

/// The registry of a circuit whose weights sit in unblinded advice columns
/// (`--param-visibility polycommit`): their KZG commitments open the proof
/// (after the advice columns before them), `pointsLength` bytes at
/// `pointsOffset`, and the commitment is `keccak256` of those bytes (what
/// `zkinfer commitment` prints). The verifier checks the proof against those
/// very points, so an approved commitment binds the weights every dot product
/// used.
contract PolycommitModelRegistry is ModelRegistryBase {
    uint256 public immutable pointsOffset;
    uint256 public immutable pointsLength;

    constructor(address verifier_, uint256 pointsOffset_, uint256 pointsLength_, address owner_)
        ModelRegistryBase(verifier_, owner_)
    {
        pointsOffset = pointsOffset_;
        pointsLength = pointsLength_;
    }

    function commitmentOf(bytes calldata proof, uint256[] calldata) public view override returns (bytes32) {
        uint256 end = pointsOffset + pointsLength;
        if (proof.length < end) revert ModelRegistryErrors.ProofTooShort(proof.length, end);
        return keccak256(proof[pointsOffset:end]);
    }
}
