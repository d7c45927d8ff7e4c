// Prints the named variables of this process's environment as JSON, for loaders that
// fill the environment before the script runs (bun, deno, node --env-file, dotenvx run).
// Runs under node, bun and deno alike.
const env = typeof Deno !== "undefined" ? Deno.env.toObject() : process.env;
const args = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const out = {};
for (const n of args) if (env[n] !== undefined) out[n] = env[n];
const text = JSON.stringify(out);
if (typeof Deno !== "undefined") Deno.stdout.writeSync(new TextEncoder().encode(text));
else process.stdout.write(text);
