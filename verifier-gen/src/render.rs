//! Fills the Solidity templates: the verifier (either mode) and the VK
//! contract, from a [`Plan`] and the key's values.

use halo2_proofs::{
    halo2curves::{
        bn256::{Bn256, Fq, Fr, G1Affine, G2Affine},
        ff::{Field, PrimeField},
    },
    plonk::VerifyingKey,
    poly::{
        commitment::{Params, ParamsProver},
        kzg::commitment::ParamsKZG,
        Rotation,
    },
};

use crate::{
    codegen::{self, Mode, Plan, R},
    error::GenError,
    evaluator::{hex, Emitter},
    layout::VK_MAGIC,
};

pub(crate) const VERSION: &str = crate::shape::CODEGEN_VERSION;

fn fq_word(f: &Fq) -> [u8; 32] {
    let mut r = f.to_repr();
    r.reverse();
    r
}

fn fr_word(f: &Fr) -> [u8; 32] {
    crate::evaluator::fr_be(f)
}

fn u64_word(v: u64) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

fn g1_words(p: &G1Affine) -> [[u8; 32]; 2] {
    // The identity (an all-zero fixed column's commitment) is (0, 0), as the precompiles expect.
    [fq_word(&p.x), fq_word(&p.y)]
}

/// The precompile's G2 encoding: `x.c1, x.c0, y.c1, y.c0` (imaginary part first).
fn g2_words(p: &G2Affine) -> [[u8; 32]; 4] {
    [fq_word(&p.x.c1), fq_word(&p.x.c0), fq_word(&p.y.c1), fq_word(&p.y.c0)]
}

/// The VK words, in the order of the plan's [`VkLayout`](crate::layout::VkLayout).
pub(crate) fn vk_words(
    plan: &Plan,
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    num_instances: usize,
) -> Result<Vec<[u8; 32]>, GenError> {
    let l = &plan.vk;
    let domain = vk.get_domain();
    let k = domain.k();
    if params.k() != k {
        return Err(GenError::Invalid { what: "SRS size (k)", expected: k.to_string(), got: params.k().to_string() });
    }
    let n = 1u64 << k;
    let usable = n as usize - (plan.shape.blinding_factors + 1);
    if num_instances > usable {
        return Err(GenError::Invalid {
            what: "number of instances",
            expected: format!("at most {usable} (usable rows)"),
            got: num_instances.to_string(),
        });
    }
    let mut words = vec![[0u8; 32]; l.words];
    let mut put = |at: usize, w: [u8; 32]| words[(at - l.base) / 0x20] = w;
    put(l.magic, u64_word(VK_MAGIC));
    put(l.digest, plan.shape.digest);
    put(l.k, u64_word(k as u64));
    put(l.n_inv, fr_word(&Fr::from(n).invert().expect("n is not zero mod r")));
    put(l.omega, fr_word(&domain.get_omega()));
    put(l.num_instances, u64_word(num_instances as u64));
    put(l.repr, fr_word(&vk.transcript_repr()));
    for (i, w) in g1_words(&params.get_g()[0]).into_iter().enumerate() {
        put(l.g1 + 0x20 * i, w);
    }
    for (i, w) in g2_words(&-params.g2()).into_iter().enumerate() {
        put(l.neg_g2 + 0x20 * i, w);
    }
    for (i, w) in g2_words(&params.s_g2()).into_iter().enumerate() {
        put(l.s_g2 + 0x20 * i, w);
    }
    for &(r, at) in &l.omega_rot {
        put(at, fr_word(&domain.rotate_omega(Fr::ONE, Rotation(r))));
    }
    let fixed = vk.fixed_commitments();
    if fixed.len() != l.fixed.len() {
        return Err(GenError::Invalid {
            what: "fixed commitments",
            expected: l.fixed.len().to_string(),
            got: fixed.len().to_string(),
        });
    }
    for (c, &at) in fixed.iter().zip(&l.fixed) {
        let [x, y] = g1_words(c);
        put(at, x);
        put(at + 0x20, y);
    }
    for (c, &at) in vk.permutation().commitments().iter().zip(&l.sigma) {
        let [x, y] = g1_words(c);
        put(at, x);
        put(at + 0x20, y);
    }
    Ok(words)
}

fn word_lit(w: &[u8; 32]) -> String {
    match w.iter().position(|&b| b != 0) {
        None => "0".into(),
        Some(i) => format!("0x{}", hex(&w[i..])),
    }
}

fn stores(base: usize, words: &[[u8; 32]], indent: usize) -> String {
    let pad = "    ".repeat(indent);
    words.iter().enumerate().map(|(i, w)| format!("{pad}mstore({:#x}, {})\n", base + 0x20 * i, word_lit(w))).collect()
}

fn indent(text: &str, n: usize) -> String {
    let pad = "    ".repeat(n);
    text.lines().map(|l| if l.is_empty() { "\n".to_string() } else { format!("{pad}{l}\n") }).collect()
}

fn memory_map(plan: &Plan) -> String {
    let mut s = String::from("// Memory map: 0x00-0x1ff scratch (precompile calls)\n");
    for (at, words, name) in &plan.mem.map {
        s.push_str(&format!("//   {at:#06x} ({words} words) {name}\n"));
    }
    s
}

/// The verifier contract's source.
pub(crate) fn verifier(plan: &Plan, mode: Mode, name: &str, vk_words: Option<&[[u8; 32]]>) -> String {
    let pc = plan.proof_cptr;
    let ic = plan.inst_cptr;
    let l = &plan.vk;
    let mut pro = String::new();
    match mode {
        Mode::SelfContained => {
            pro.push_str("// The verifying key.\n");
            pro.push_str(&stores(l.base, vk_words.expect("the self-contained verifier embeds its key"), 0));
        }
        Mode::Separate => {
            let len = l.words * 0x20;
            pro.push_str("// The verifying key: the code of the contract at `vk`, made for this shape.\n");
            pro.push_str(&format!("if iszero(eq(extcodesize(vk), {len:#x})) {{ fail() }}\n"));
            pro.push_str(&format!("extcodecopy(vk, {:#x}, 0, {len:#x})\n", l.base));
            pro.push_str(&format!(
                "if iszero(and(eq(mload({:#x}), {}), eq(mload({:#x}), 0x{}))) {{ fail() }}\n",
                l.magic,
                word_lit(&u64_word(VK_MAGIC)),
                l.digest,
                hex(&plan.shape.digest)
            ));
        }
    }
    pro.push_str("// The calldata is the standard ABI encoding with the proof's exact length.\n");
    pro.push_str(&format!(
        "if iszero(and(and(eq(proof.offset, {pc:#x}), eq(proof.length, {:#x})), and(eq(instances.offset, {ic:#x}), eq(instances.length, mload({:#x}))))) {{ fail() }}\n",
        plan.proof.len, l.num_instances
    ));
    let mut e = Emitter::new(0);
    plan.body(&mut e);
    let (params, about, vk_doc) = match mode {
        Mode::SelfContained => (
            "bytes calldata proof, uint256[] calldata instances",
            "Self-contained: the verifying key is part of this contract.",
            "",
        ),
        Mode::Separate => (
            "address vk, bytes calldata proof, uint256[] calldata instances",
            "Reusable: serves every model of one circuit shape; the\n// model's verifying key is a separate contract whose address is passed in.",
            "\n    /// `vk` is the address of the model's verifying-key contract (its\n    /// code is the key); the caller chooses which model it checks against.",
        ),
    };
    include_str!("../templates/Verifier.sol")
        .replace("{{version}}", VERSION)
        .replace("{{about}}", about)
        .replace("{{proof_len}}", &plan.proof.len.to_string())
        .replace("{{digest}}", &format!("0x{}", hex(&plan.shape.digest)))
        .replace("{{name}}", name)
        .replace("{{vk_doc}}", vk_doc)
        .replace("{{params}}", params)
        .replace("{{functions}}", &indent(&codegen::functions(plan.inv_base()), 3))
        .replace("{{R}}", R)
        .replace("{{prologue}}", &indent(&(memory_map(plan) + &pro), 3))
        .replace("{{body}}", &indent(&e.text(), 3))
}

/// The VK contract's source: its deployed code is the VK words.
pub(crate) fn vk_contract(plan: &Plan, name: &str, words: &[[u8; 32]]) -> String {
    include_str!("../templates/VerifyingKey.sol")
        .replace("{{version}}", VERSION)
        .replace("{{digest}}", &format!("0x{}", hex(&plan.shape.digest)))
        .replace("{{words}}", &words.len().to_string())
        .replace("{{name}}", name)
        .replace("{{stores}}", &stores(0, words, 3))
        .replace("{{len}}", &format!("{:#x}", words.len() * 0x20))
}
