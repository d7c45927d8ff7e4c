// Reads a .env the way a node app does and prints what it got as JSON.
// usage: node node_reader.cjs dotenv|loadenvfile|vite|next|env DIR_OR_FILE NAME...
// `env` prints process.env (for `node --env-file`, dotenvx run, bun, deno).
"use strict";
const path = require("path");
const [mode, target, ...names] = process.argv.slice(2);
const js = path.join(__dirname, "..", "js");
const need = (m) => require(require.resolve(m, { paths: [js] }));
let got;
switch (mode) {
  case "dotenv":
    got = need("dotenv").parse(require("fs").readFileSync(target));
    break;
  case "loadenvfile":
    process.loadEnvFile(target);
    got = process.env;
    break;
  case "next":
    got = need("@next/env").loadEnvConfig(target, false, { info() {}, error() {} }).combinedEnv;
    break;
  case "env":
    got = process.env;
    break;
  default:
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
const out = {};
for (const n of names) if (got[n] !== undefined) out[n] = got[n];
process.stdout.write(JSON.stringify(out));
