//! Small hand-written circuits: keys with constructs the generator does not
//! render give an error that names the construct, never a panic; and (with
//! the `evm` feature) a gate over the instance column verifies on chain.

use halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner, Value},
    plonk::{keygen_vk, Advice, Circuit, Column, ConstraintSystem, Error, FirstPhase, Fixed, SecondPhase},
    poly::Rotation,
};
use prover::{srs, Fr};
use verifier_gen::GenError;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Kind {
    #[default]
    Plain,
    TwoInstanceColumns,
    InstanceAtNextRow,
    Challenge,
}

/// `a[0] = instance[0]` (through a gate), for a witness `a[0]`.
#[derive(Clone, Default)]
struct Tiny(Kind, Fr);

impl Circuit<Fr> for Tiny {
    type Config = (Column<Advice>, Column<Fixed>);
    type FloorPlanner = SimpleFloorPlanner;
    type Params = Kind;

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn params(&self) -> Kind {
        self.0
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
        Self::configure_with_params(meta, Kind::Plain)
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, kind: Kind) -> Self::Config {
        let a = meta.advice_column();
        let q = meta.fixed_column();
        let inst = meta.instance_column();
        meta.enable_equality(a);
        if kind == Kind::TwoInstanceColumns {
            meta.instance_column();
        }
        let phase2 = (kind == Kind::Challenge).then(|| {
            let _ = meta.challenge_usable_after(FirstPhase);
            meta.advice_column_in(SecondPhase)
        });
        meta.create_gate("a * q = instance", |m| {
            let a = m.query_advice(a, Rotation::cur());
            let q = m.query_fixed(q, Rotation::cur());
            let rot = if kind == Kind::InstanceAtNextRow { Rotation::next() } else { Rotation::cur() };
            let i = m.query_instance(inst, rot);
            let mut c = vec![q * (a - i)];
            if let Some(b) = phase2 {
                c.push(m.query_advice(b, Rotation::cur()));
            }
            c
        });
        (a, q)
    }

    fn synthesize(&self, (a, q): Self::Config, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        layouter.assign_region(
            || "a",
            |mut region| {
                region.assign_advice(a, 0, Value::known(self.1));
                region.assign_fixed(q, 0, Fr::one());
                Ok(())
            },
        )
    }
}

fn render(kind: Kind) -> Result<String, GenError> {
    let params = srs::dev_srs(5);
    let vk = keygen_vk(&params, &Tiny(kind, Fr::one())).unwrap();
    verifier_gen::render_verifier(&params, &vk, 1)
}

fn unsupported(kind: Kind) -> String {
    match render(kind) {
        Err(GenError::Unsupported { construct }) => construct,
        other => panic!("{kind:?}: expected an unsupported-construct error, got {:?}", other.map(|s| s.len())),
    }
}

#[test]
fn plain_circuit_renders() {
    let src = render(Kind::Plain).unwrap();
    assert!(src.contains("function verifyProof(bytes calldata proof, uint256[] calldata instances)"));
}

#[test]
fn two_instance_columns_are_refused() {
    assert!(unsupported(Kind::TwoInstanceColumns).contains("2 instance columns"));
}

#[test]
fn instance_rotations_are_refused() {
    assert!(unsupported(Kind::InstanceAtNextRow).contains("instance column 0 queried at rotation 1"));
}

#[test]
fn challenges_are_refused() {
    assert!(unsupported(Kind::Challenge).contains("challenges"));
}

#[test]
fn too_many_instances_are_refused() {
    let params = srs::dev_srs(5);
    let vk = keygen_vk(&params, &Tiny(Kind::Plain, Fr::one())).unwrap();
    let err = verifier_gen::render_verifier(&params, &vk, 1000).unwrap_err();
    assert!(matches!(err, GenError::Invalid { what: "number of instances", .. }), "{err}");
    let err = verifier_gen::render_verifier(&srs::dev_srs(6), &vk, 1).unwrap_err();
    assert!(matches!(err, GenError::Invalid { what: "SRS size (k)", .. }), "{err}");
}

#[cfg(feature = "evm")]
#[test]
fn instance_in_a_gate_verifies_on_chain() {
    use halo2_proofs::{
        plonk::{create_proof, keygen_pk},
        poly::kzg::{commitment::KZGCommitmentScheme, multiopen::ProverSHPLONK},
    };
    use prover::{
        transcript::{ChallengeEvm, EvmTranscript},
        Bn256, G1Affine,
    };
    use verifier_gen::evm::{Evm, Solc};

    let params = srs::dev_srs(5);
    let circuit = Tiny(Kind::Plain, Fr::from(7));
    let vk = keygen_vk(&params, &circuit).unwrap();
    let pk = keygen_pk(&params, vk, &circuit).unwrap();
    let instances = vec![Fr::from(7)];
    let mut t = EvmTranscript::<G1Affine, Vec<u8>>::new(vec![]);
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, ChallengeEvm<G1Affine>, _, _, _>(
        &params,
        &pk,
        &[circuit],
        &[&[&instances]],
        rand_core::OsRng,
        &mut t,
    )
    .unwrap();
    let proof = t.into_inner();
    prover::verify(&params, pk.get_vk(), &instances, &proof).unwrap();
    let src = verifier_gen::render_verifier(&params, pk.get_vk(), 1).unwrap();
    let mut evm = Evm::new();
    let at = evm.deploy(&Solc::default().compile_one(&src).unwrap()).unwrap().address;
    let call =
        |evm: &mut Evm, inst: &[Fr]| evm.call(at, verifier_gen::encode_calldata(&proof, inst)).unwrap().returned_true();
    assert!(call(&mut evm, &instances));
    assert!(!call(&mut evm, &[Fr::from(8)]));
}
