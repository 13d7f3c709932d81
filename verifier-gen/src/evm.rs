//! Compiling verifiers with solc-js and running them in revm (`evm` feature).
//!
//! solc is the npm package pinned in the repository's `package.json`,
//! installed by `scripts/npm-ci.sh`, and driven by `scripts/solc.js` (node):
//! no solc binary is needed.

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

use revm::{
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::result::{ExecutionResult, Output},
    database::{CacheDB, EmptyDB},
    primitives::{Address, Bytes, TxKind},
    Context, ExecuteCommitEvm, Journal, MainBuilder, MainContext, MainnetEvm,
};

use crate::error::GenError;

/// The repository's `scripts/solc.js` (located at build time; pass another
/// path to [`Solc::new`] when the binary runs elsewhere).
pub const SOLC_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/solc.js");

/// One compiled contract.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub name: String,
    /// Creation (deployment) code.
    pub bytecode: Vec<u8>,
    /// Runtime code, as deployed.
    pub deployed: Vec<u8>,
}

/// A solc-js invocation.
#[derive(Clone, Debug)]
pub struct Solc {
    pub script: PathBuf,
    /// Optimizer runs, or `None` for no optimizer.
    pub optimizer_runs: Option<u32>,
}

impl Default for Solc {
    /// The repository's solc-js, optimizer on (200 runs).
    fn default() -> Self {
        Solc { script: PathBuf::from(SOLC_SCRIPT), optimizer_runs: Some(200) }
    }
}

fn solc_err(reason: impl Into<String>) -> GenError {
    GenError::Solc { reason: reason.into() }
}

fn from_hex(s: &str) -> Result<Vec<u8>, GenError> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if !s.len().is_multiple_of(2) {
        return Err(solc_err("odd-length hex in solc output"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| solc_err("bad hex in solc output")))
        .collect()
}

impl Solc {
    pub fn new(script: impl Into<PathBuf>) -> Solc {
        Solc { script: script.into(), optimizer_runs: Some(200) }
    }

    pub fn without_optimizer(mut self) -> Solc {
        self.optimizer_runs = None;
        self
    }

    /// Compiles `source`; returns every contract in it.
    pub fn compile(&self, source: &str) -> Result<Vec<Compiled>, GenError> {
        let mut cmd = Command::new("node");
        cmd.arg(&self.script);
        if let Some(runs) = self.optimizer_runs {
            cmd.args(["--optimize", "--runs", &runs.to_string()]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| solc_err(format!("cannot run node {}: {e}", self.script.display())))?;
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(source.as_bytes())
            .map_err(|e| solc_err(format!("writing the source to solc.js: {e}")))?;
        let out = child.wait_with_output().map_err(|e| solc_err(format!("waiting for solc.js: {e}")))?;
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            solc_err(format!(
                "solc.js printed no JSON ({e}); stderr: {} (did scripts/npm-ci.sh run?)",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        })?;
        if !out.status.success() {
            let errors: Vec<String> = json["errors"]
                .as_array()
                .map(|a| a.iter().filter_map(|e| e.as_str().map(String::from)).collect())
                .unwrap_or_default();
            return Err(solc_err(errors.join("\n")));
        }
        let contracts = json["contracts"].as_object().ok_or_else(|| solc_err("no contracts in the output"))?;
        contracts
            .iter()
            .map(|(name, c)| {
                Ok(Compiled {
                    name: name.clone(),
                    bytecode: from_hex(c["bytecode"].as_str().unwrap_or_default())?,
                    deployed: from_hex(c["deployedBytecode"].as_str().unwrap_or_default())?,
                })
            })
            .collect()
    }

    /// Compiles a source with exactly one contract; returns its creation code.
    pub fn compile_one(&self, source: &str) -> Result<Vec<u8>, GenError> {
        let mut all = self.compile(source)?;
        match all.len() {
            1 => Ok(all.remove(0).bytecode),
            n => Err(solc_err(format!("expected one contract, the source has {n}"))),
        }
    }
}

/// Creation code of the single contract in `source` (repository solc-js, optimizer on).
pub fn compile_solidity(source: &str) -> Result<Vec<u8>, GenError> {
    Solc::default().compile_one(source)
}

type Db = CacheDB<EmptyDB>;
type Inner = MainnetEvm<Context<BlockEnv, TxEnv, CfgEnv, Db, Journal<Db>, ()>>;

/// An in-memory chain (revm, latest hard fork) with one funded-free caller
/// ([`Evm::call_from`] sends from any other): gas price 0, no code-size limit
/// (oversized test contracts deploy).
pub struct Evm {
    inner: Inner,
    caller: Address,
    nonce: u64,
}

/// A deployed contract.
#[derive(Clone, Copy, Debug)]
pub struct Deployment {
    pub address: [u8; 20],
    /// Gas of the creating transaction.
    pub gas: u64,
    /// Size of the deployed (runtime) code in bytes.
    pub code_size: usize,
}

/// An event a transaction emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log {
    /// The emitting contract.
    pub address: [u8; 20],
    /// `topics[0]` is the event's signature hash (non-anonymous events),
    /// then the indexed arguments.
    pub topics: Vec<[u8; 32]>,
    /// The ABI encoding of the non-indexed arguments.
    pub data: Vec<u8>,
}

/// The outcome of a call.
#[derive(Clone, Debug)]
pub struct CallResult {
    /// The call returned normally (no revert or halt).
    pub success: bool,
    /// The return data.
    pub output: Vec<u8>,
    /// Gas of the whole transaction (including the 21000 base and calldata).
    pub gas: u64,
    /// The events of a successful transaction, in order (empty on a revert or
    /// halt: the chain keeps none).
    pub logs: Vec<Log>,
}

impl CallResult {
    /// Whether the call returned the ABI encoding of `true`.
    pub fn returned_true(&self) -> bool {
        let mut t = [0u8; 32];
        t[31] = 1;
        self.success && self.output == t
    }
}

/// Gas each transaction may use: far above any verifier's (mainnet's block
/// limit is ~36M; Osaka caps a transaction at 2^24 ~ 16.8M).
pub const TX_GAS_LIMIT: u64 = 1 << 30;

impl Default for Evm {
    fn default() -> Self {
        Self::new()
    }
}

impl Evm {
    pub fn new() -> Evm {
        let inner = Context::mainnet()
            .with_db(Db::default())
            .modify_cfg_chained(|cfg| {
                cfg.limit_contract_code_size = Some(usize::MAX);
                cfg.limit_contract_initcode_size = Some(usize::MAX);
                cfg.disable_nonce_check = true;
                // Osaka's 2^24 per-transaction cap (EIP-7825) would stop the
                // deployment of oversized reference contracts; gas is measured, not capped.
                cfg.tx_gas_limit_cap = Some(u64::MAX);
            })
            .build_mainnet();
        Evm { inner, caller: Address::with_last_byte(0xca), nonce: 0 }
    }

    /// The address [`Evm::deploy`] and [`Evm::call`] send from.
    pub fn caller(&self) -> [u8; 20] {
        self.caller.into_array()
    }

    fn transact(&mut self, kind: TxKind, data: Vec<u8>) -> Result<ExecutionResult, GenError> {
        self.transact_from(self.caller, kind, data)
    }

    /// Every sender shares one nonce counter: with the nonce check off, it
    /// only makes each creation address unique.
    fn transact_from(&mut self, caller: Address, kind: TxKind, data: Vec<u8>) -> Result<ExecutionResult, GenError> {
        let tx = TxEnv::builder()
            .caller(caller)
            .kind(kind)
            .data(Bytes::from(data))
            .nonce(self.nonce)
            .gas_limit(TX_GAS_LIMIT)
            .build_fill();
        self.nonce += 1;
        self.inner.transact_commit(tx).map_err(|e| GenError::Evm { reason: format!("{e:?}") })
    }

    /// Deploys creation code; an error when the constructor fails.
    pub fn deploy(&mut self, bytecode: &[u8]) -> Result<Deployment, GenError> {
        match self.transact(TxKind::Create, bytecode.to_vec())? {
            ExecutionResult::Success { output: Output::Create(code, Some(address)), gas, .. } => {
                let _ = code;
                let address: [u8; 20] = address.into_array();
                let code_size = self.code_size(address);
                Ok(Deployment { address, gas: gas.tx_gas_used(), code_size })
            }
            other => Err(GenError::Evm { reason: format!("deployment failed: {other:?}") }),
        }
    }

    fn code_size(&mut self, address: [u8; 20]) -> usize {
        use revm::Database;
        let a = Address::from(address);
        let db = &mut self.inner.ctx.journaled_state.database;
        match db.basic(a) {
            Ok(Some(info)) => match info.code {
                Some(code) => code.original_bytes().len(),
                None => db.code_by_hash(info.code_hash).map(|c| c.original_bytes().len()).unwrap_or(0),
            },
            _ => 0,
        }
    }

    /// Calls `to` with `calldata`; a revert or halt is a result, not an error.
    pub fn call(&mut self, to: [u8; 20], calldata: Vec<u8>) -> Result<CallResult, GenError> {
        self.call_from(self.caller(), to, calldata)
    }

    /// [`Evm::call`] sent by `from` (any address: gas is free, so no funding
    /// is needed), e.g. to check a contract's access control.
    pub fn call_from(&mut self, from: [u8; 20], to: [u8; 20], calldata: Vec<u8>) -> Result<CallResult, GenError> {
        let failed = |output: Vec<u8>, gas: u64| CallResult { success: false, output, gas, logs: vec![] };
        Ok(match self.transact_from(Address::from(from), TxKind::Call(Address::from(to)), calldata)? {
            ExecutionResult::Success { output, gas, logs, .. } => CallResult {
                success: true,
                output: output.data().to_vec(),
                gas: gas.tx_gas_used(),
                logs: logs
                    .into_iter()
                    .map(|l| Log {
                        address: l.address.into_array(),
                        topics: l.data.topics().iter().map(|t| t.0).collect(),
                        data: l.data.data.to_vec(),
                    })
                    .collect(),
            },
            ExecutionResult::Revert { output, gas, .. } => failed(output.to_vec(), gas.tx_gas_used()),
            ExecutionResult::Halt { gas, .. } => failed(vec![], gas.tx_gas_used()),
        })
    }
}

/// Keccak-256 of `data` (revm's).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    revm::primitives::keccak256(data).0
}

/// The 4-byte ABI selector of a function or error signature, e.g.
/// `"verifyProof(bytes,uint256[])"`.
pub fn selector(signature: &str) -> [u8; 4] {
    let h = keccak256(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// Deploys `bytecode` in a fresh EVM and calls it once: `(returned true, gas of the call)`.
pub fn deploy_and_call(bytecode: &[u8], calldata: Vec<u8>) -> Result<(bool, u64), GenError> {
    let mut evm = Evm::new();
    let d = evm.deploy(bytecode)?;
    let r = evm.call(d.address, calldata)?;
    Ok((r.returned_true(), r.gas))
}
