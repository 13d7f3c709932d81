// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

/// A segment's verifier (the self-contained form zkinfer gen-verifier writes).
interface ISegmentVerifier {
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external view returns (bool);
}

/// One entry point for a model split into segments (`zkinfer compile
/// --max-k | --segments`): checks every segment's proof with that
/// segment's verifier and the commitment chain, segment i's output
/// commitment equal to segment i+1's input commitment, in one call.
///
/// Guarantees: `verifyProofs` returns true only if there is exactly one
/// proof and one instance list per segment, in order, every segment
/// verifier returned an ABI `true`, and for every i > 0
/// `instances[i][inIndex[i]] == instances[i-1][outIndex[i-1]]`. The model's
/// public inputs are among segment 0's instances and its public outputs
/// among the last segment's (the consumer reads them from there).
/// Trusted: the segment verifiers and indices it was deployed with.
contract SegmentedVerifier {
    address[] public verifiers;
    /// Per segment: where its input commitment sits among its instances
    /// (unused for segment 0).
    uint256[] public inIndex;
    /// Per segment: where its output commitment sits (unused for the last).
    uint256[] public outIndex;

    error LengthsDiffer();

    constructor(address[] memory verifiers_, uint256[] memory inIndex_, uint256[] memory outIndex_) {
        if (verifiers_.length == 0 || inIndex_.length != verifiers_.length || outIndex_.length != verifiers_.length) {
            revert LengthsDiffer();
        }
        verifiers = verifiers_;
        inIndex = inIndex_;
        outIndex = outIndex_;
    }

    function segments() external view returns (uint256) {
        return verifiers.length;
    }

    function verifyProofs(bytes[] calldata proofs, uint256[][] calldata instances) external view returns (bool) {
        uint256 n = verifiers.length;
        if (proofs.length != n || instances.length != n) return false;
        for (uint256 i = 0; i < n; i++) {
            if (i > 0) {
                uint256 a = inIndex[i];
                uint256 b = outIndex[i - 1];
                if (a >= instances[i].length || b >= instances[i - 1].length) return false;
                if (instances[i][a] != instances[i - 1][b]) return false;
            }
            (bool ok, bytes memory ret) =
                verifiers[i].staticcall(abi.encodeCall(ISegmentVerifier.verifyProof, (proofs[i], instances[i])));
            if (!ok || ret.length != 32 || abi.decode(ret, (uint256)) != 1) return false;
        }
        return true;
    }
}
