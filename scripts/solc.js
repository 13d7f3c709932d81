#!/usr/bin/env node
// Compiles one Solidity source with the pinned solc-js (see package.json).
// Reads the source from stdin; prints one JSON object on stdout:
//   {"version": "...", "contracts": {"Name": {"bytecode": "0x..", "deployedBytecode": "0x.."}},
//    "errors": ["formatted message", ...]}
// Exit status 0 when it compiled (warnings may be listed), 1 on errors.
// Options: --optimize (enable the optimizer), --runs N (default 200),
//          --evm-version NAME (default: the compiler's).
"use strict";
const path = require("path");
const solc = require(path.join(__dirname, "..", "node_modules", "solc"));

const args = process.argv.slice(2);
let optimize = false;
let runs = 200;
let evmVersion;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--optimize") optimize = true;
  else if (args[i] === "--runs") runs = parseInt(args[++i], 10);
  else if (args[i] === "--evm-version") evmVersion = args[++i];
  else {
    console.error("solc.js: unknown argument " + args[i]);
    process.exit(2);
  }
}

const source = require("fs").readFileSync(0, "utf8");
const settings = {
  optimizer: { enabled: optimize, runs },
  outputSelection: { "*": { "*": ["evm.bytecode.object", "evm.deployedBytecode.object"] } },
};
if (evmVersion) settings.evmVersion = evmVersion;
const input = { language: "Solidity", sources: { "input.sol": { content: source } }, settings };
const output = JSON.parse(solc.compile(JSON.stringify(input)));

const errors = (output.errors || []).map((e) => e.formattedMessage || e.message);
const failed = (output.errors || []).some((e) => e.severity === "error");
const contracts = {};
for (const [name, c] of Object.entries((output.contracts || {})["input.sol"] || {})) {
  contracts[name] = {
    bytecode: "0x" + c.evm.bytecode.object,
    deployedBytecode: "0x" + c.evm.deployedBytecode.object,
  };
}
// Set the status and let node exit by itself: process.exit() would cut a
// large output written to a pipe.
process.exitCode = failed ? 1 : 0;
process.stdout.write(JSON.stringify({ version: solc.version(), contracts, errors }));
