// Compiles src/*.sol with the pinned solcjs into out/<Contract>.json ({abi, bytecode,
// deployedBytecode} with 0x-hex). Output is deterministic (no metadata hash, sorted keys),
// so CI can recompile and `git diff --exit-code out/` to prove the committed JSON is current.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const SRC = path.join(__dirname, 'src');
const OUT = path.join(__dirname, 'out');
const CONTRACTS = ['EntityRegistry', 'Depository'];

const sources = {};
for (const f of fs.readdirSync(SRC).filter((f) => f.endsWith('.sol')).sort()) {
  sources[f] = { content: fs.readFileSync(path.join(SRC, f), 'utf8') };
}
const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    viaIR: true,
    evmVersion: 'cancun',
    metadata: { bytecodeHash: 'none', appendCBOR: false },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};
// solcjs resolves imports through this callback; everything lives in src/.
function findImports(p) {
  const file = path.join(SRC, path.basename(p));
  return fs.existsSync(file) ? { contents: fs.readFileSync(file, 'utf8') } : { error: 'not found: ' + p };
}
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
let failed = false;
for (const e of output.errors || []) {
  process.stderr.write(e.formattedMessage || e.message);
  if (e.severity === 'error') failed = true;
}
if (failed) process.exit(1);
fs.mkdirSync(OUT, { recursive: true });
for (const name of CONTRACTS) {
  const c = output.contracts[name + '.sol'][name];
  const artifact = {
    contractName: name,
    compiler: 'solc ' + solc.version(),
    abi: c.abi,
    bytecode: '0x' + c.evm.bytecode.object,
    deployedBytecode: '0x' + c.evm.deployedBytecode.object,
  };
  fs.writeFileSync(path.join(OUT, name + '.json'), JSON.stringify(artifact, null, 2) + '\n');
  console.log(`${name}: ${c.evm.deployedBytecode.object.length / 2} bytes deployed`);
}
