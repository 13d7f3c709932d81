//! snark-verifier's EVM verifier for the same key: the reference our
//! verifier is checked against (accepts and rejects the same proofs), and
//! the gas and size we compare with. Test-only.

use std::rc::Rc;

use halo2_proofs::{plonk::VerifyingKey, poly::commitment::ParamsProver, poly::kzg::commitment::ParamsKZG};
use prover::{Bn256, Fr, G1Affine};
use snark_verifier::{
    loader::evm::EvmLoader,
    pcs::kzg::{Bdfg21, KzgAs, KzgDecidingKey},
    system::halo2::{compile, transcript::evm::EvmTranscript, Config},
    verifier::{plonk::PlonkVerifier, SnarkVerifier},
};

type Verifier = PlonkVerifier<KzgAs<Bn256, Bdfg21>>;

/// snark-verifier's Solidity verifier (SHPLONK) for `vk`, with its pragma
/// relaxed so the pinned solc-js compiles it.
pub fn solidity(params: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>, num_instances: usize) -> String {
    use halo2_proofs::halo2curves::bn256::{Fq, Fr as Scalar};
    let protocol = compile(params, vk, Config::kzg().with_num_instance(vec![num_instances]));
    let dk: KzgDecidingKey<Bn256> = (params.get_g()[0], params.g2(), params.s_g2()).into();
    let loader = EvmLoader::new::<Fq, Scalar>();
    let protocol = protocol.loaded(&loader);
    let mut transcript = EvmTranscript::<_, Rc<EvmLoader>, _, _>::new(&loader);
    let instances = transcript.load_instances(vec![num_instances]);
    let proof =
        Verifier::read_proof(&dk, &protocol, &instances, &mut transcript).expect("snark-verifier reads the proof");
    Verifier::verify(&dk, &protocol, &instances, &proof).expect("snark-verifier verifies");
    loader.solidity_code().replace("pragma solidity 0.8.19;", "pragma solidity >=0.8.19;")
}

/// Its calldata: the instances as 32-byte big-endian words, then the proof.
pub fn calldata(proof: &[u8], instances: &[Fr]) -> Vec<u8> {
    snark_verifier::loader::evm::encode_calldata(&[instances.to_vec()], proof)
}
