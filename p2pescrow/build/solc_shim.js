#!/usr/bin/env node
// solc_shim.js - the npm `solc` package (solcjs) behind the command line of native `solc`.
//
// Why: no native solc can be installed on our build machines, but the npm package ships the
// official Emscripten build of the compiler. py-solc-x and eth-brownie drive a compiler only as a
// native binary (`solc --version`, `solc --standard-json [--allow-paths X] [--base-path Y]`), and
// the `solcjs` command line is unusable for them (it prints a banner on stdout before the JSON,
// truncates piped output over 64 KiB and rejects --allow-paths). This shim speaks the native
// interface through solc's JS API instead. p2pescrow/build/compiler.py runs it via a small sh
// wrapper (and can register that wrapper as ~/.solcx/solc-v<version> for brownie).
//
// Supported:  --version | --standard-json [--base-path P] [--include-path P]... [--allow-paths P]
// Nothing but the compiler's JSON (or the version text) is ever written to stdout.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const USAGE =
  'usage: solc_shim.js --version | --standard-json [--base-path DIR] [--include-path DIR]... ' +
  '[--allow-paths LIST]\n';

function fail(message) {
  process.stderr.write(message.endsWith('\n') ? message : message + '\n');
  process.exit(1);
}

// Locate the npm `solc` package: $P2PESCROW_NODE_MODULES, then the project's node_modules next to
// this script (p2pescrow/build/ -> ../../node_modules), then ordinary require() resolution.
function solcPackageDir() {
  const explicit = process.env.P2PESCROW_NODE_MODULES;
  if (explicit) {
    const dir = path.resolve(explicit, 'solc');
    if (!fs.existsSync(path.join(dir, 'package.json'))) {
      fail(`P2PESCROW_NODE_MODULES=${explicit} has no solc package (run \`npm ci\`).`);
    }
    return dir;
  }
  const beside = path.resolve(__dirname, '..', '..', 'node_modules', 'solc');
  if (fs.existsSync(path.join(beside, 'package.json'))) {
    return beside;
  }
  try {
    return path.dirname(require.resolve('solc/package.json'));
  } catch (err) {
    fail('cannot find the npm package `solc`: run `npm ci` in the project, or set ' +
         'P2PESCROW_NODE_MODULES to a node_modules folder that contains it.');
  }
  return null; // unreachable
}

function loadSolc(dir) {
  try {
    return require(dir);
  } catch (err) {
    fail(`cannot load solc from ${dir}: ${err && err.stack ? err.stack : err}`);
  }
  return null; // unreachable
}

// Loading soljson.js takes ~0.5 s and py-solc-x asks for --version before every compile, so the
// version string is cached per soljson.js file (keyed by its path, size and mtime).
function cachedVersion(dir) {
  let key;
  try {
    const soljson = fs.realpathSync(path.join(dir, 'soljson.js'));
    const st = fs.statSync(soljson);
    key = `${soljson}\n${st.size}\n${st.mtimeMs}`;
  } catch (err) {
    return loadSolc(dir).version();
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  const cacheFile = path.join(os.tmpdir(), `p2pescrow-solcjs-version-${uid}.json`);
  try {
    const cached = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
    if (cached.key === key && typeof cached.version === 'string') {
      return cached.version;
    }
  } catch (err) {
    // no cache yet, or unreadable: fall through and recompute
  }
  const version = loadSolc(dir).version();
  try {
    const tmp = `${cacheFile}.${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify({ key, version }));
    fs.renameSync(tmp, cacheFile);
  } catch (err) {
    // a cache is only an optimisation
  }
  return version;
}

// Write everything to fd 1 synchronously. process.stdout.write on a pipe may still be queued when
// the process exits, which is how solcjs loses everything past 64 KiB; a writeSync loop cannot.
function writeStdout(text) {
  const buffer = Buffer.from(text, 'utf8');
  let offset = 0;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (offset < buffer.length) {
    try {
      offset += fs.writeSync(1, buffer, offset, buffer.length - offset);
    } catch (err) {
      if (err.code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 5); // non-blocking pipe is full: wait for the reader
        continue;
      }
      if (err.code === 'EPIPE') {
        process.exit(1);
      }
      throw err;
    }
  }
}

function readStdin(callback) {
  const chunks = [];
  process.stdin.on('data', (chunk) => chunks.push(chunk));
  process.stdin.on('end', () => callback(Buffer.concat(chunks).toString('utf8')));
  process.stdin.on('error', (err) => fail(`cannot read standard input: ${err.message}`));
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: null, includePaths: [] };
  const takesValue = new Set(['--base-path', '--include-path', '--allow-paths']);
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value = null;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (takesValue.has(arg) && value === null) {
      if (i + 1 >= argv.length) {
        fail(`the option '${arg}' requires an argument\n${USAGE}`);
      }
      value = argv[++i];
    }
    switch (arg) {
      case '--version': opts.version = true; break;
      case '--standard-json': opts.standardJson = true; break;
      case '--base-path': opts.basePath = value; break;
      case '--include-path': opts.includePaths.push(value); break;
      case '--allow-paths': break; // every file readable by the user is allowed
      case '-': break; // "read standard input": that is what --standard-json does anyway
      case '--help': process.stdout.write(USAGE); process.exit(0); break;
      default: fail(`unrecognised option '${arg}'\n${USAGE}`); // same words as native solc
    }
  }
  return opts;
}

// The import callback of native solc: a source unit name is looked up under the base path (or the
// working directory), then under each include path; absolute names are read as they are.
function makeImportCallback(opts) {
  const base = path.resolve(opts.basePath || process.cwd());
  const roots = [base, ...opts.includePaths.map((p) => path.resolve(p))];
  return (sourceUnitName) => {
    const candidates = path.isAbsolute(sourceUnitName)
      ? [sourceUnitName]
      : roots.map((root) => path.join(root, sourceUnitName));
    for (const candidate of candidates) {
      try {
        if (fs.statSync(candidate).isFile()) {
          return { contents: fs.readFileSync(candidate, 'utf8') };
        }
      } catch (err) {
        // not under this root: try the next one
      }
    }
    return { error: `File not found. Searched the following locations: ${candidates.map((c) => `"${c}"`).join(', ')}.` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const dir = solcPackageDir();
  if (opts.version) {
    writeStdout(`solc, the solidity compiler commandline interface\nVersion: ${cachedVersion(dir)}\n`);
    return;
  }
  if (!opts.standardJson) {
    fail(`only --version and --standard-json are supported by this solcjs shim\n${USAGE}`);
  }
  const solc = loadSolc(dir);
  readStdin((input) => {
    const output = solc.compile(input, { import: makeImportCallback(opts) });
    writeStdout(output.endsWith('\n') ? output : output + '\n');
    process.exitCode = 0;
  });
}

main();
