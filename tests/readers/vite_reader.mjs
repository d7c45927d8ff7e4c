// Vite's loadEnv on DIR (reads DIR/.env); prints the named variables as JSON.
// usage: node vite_reader.mjs DIR NAME...
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
const [dir, ...names] = process.argv.slice(2);
const require = createRequire(path.join(import.meta.dirname, "..", "js", "package.json"));
const { loadEnv } = await import(pathToFileURL(require.resolve("vite")).href);
const got = loadEnv("production", dir, "");
const out = {};
for (const n of names) if (got[n] !== undefined) out[n] = got[n];
process.stdout.write(JSON.stringify(out));
