//! The service handles: one `Prover` shared by many threads.

use std::sync::Arc;

use zkinfer::{CompileOptions, Prover, SrsSource, Verifier};

/// N threads prove different inputs on one handle; every proof verifies and
/// equals (in its outputs and instances) the sequential proof of that input.
#[test]
fn concurrent_proofs_on_one_handle_match_sequential() {
    let dir = std::env::temp_dir().join(format!("zkinfer-handle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    zkinfer::compile_bytes(zkinfer::EXAMPLE_MODEL, "example", &CompileOptions::default(), &dir).unwrap();
    zkinfer::setup(&dir, &SrsSource::Dev).unwrap();
    let prover = Arc::new(Prover::load(&dir).unwrap());
    let verifier = Arc::new(Verifier::load(&dir).unwrap());
    let n: usize = prover.model().program.inputs[0].shape.iter().product();
    let input = |t: usize| vec![(0..n).map(|i| ((i * 7 + t * 13) % 17) as f64 / 17.0 - 0.5).collect::<Vec<f64>>()];
    const THREADS: usize = 4;
    let sequential: Vec<_> = (0..THREADS).map(|t| prover.prove(&input(t)).unwrap().proof).collect();
    let concurrent: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                let (p, v) = (prover.clone(), verifier.clone());
                s.spawn(move || {
                    let proof = p.prove(&input(t)).unwrap().proof;
                    v.verify(&proof).unwrap();
                    proof
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut distinct = std::collections::BTreeSet::new();
    for (t, (a, b)) in sequential.iter().zip(&concurrent).enumerate() {
        assert_eq!(a.instances, b.instances, "thread {t}: instances differ from the sequential proof");
        assert_eq!(a.outputs_quantized, b.outputs_quantized, "thread {t}");
        verifier.verify(a).unwrap();
        distinct.insert(format!("{:?}", a.outputs_quantized));
    }
    assert!(distinct.len() > 1, "the inputs should give different outputs");
    // A proof of thread 0 with thread 1's instances is rejected.
    let mut swapped = concurrent[0].clone();
    swapped.instances = concurrent[1].instances.clone();
    swapped.outputs = concurrent[1].outputs.clone();
    swapped.outputs_quantized = concurrent[1].outputs_quantized.clone();
    assert!(verifier.verify(&swapped).is_err(), "a proof verified against another input's instances");
    // The handle's own verifier agrees.
    prover.verifier().verify(&concurrent[2]).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
