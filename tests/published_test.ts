/**
 * The package as `deno.json` publishes it: `dist/`, the entries bundled by
 * `deno task build:dist` (the static checks make sure it is what the sources
 * build). The shipped CLI of `shipping_test.ts` runs it in every shipping
 * form; here, that it is the sources' API, that its entries share one copy of
 * the handler, and what a run loads.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { assertNoLazyImport, staticImports } from "../scripts/eager_compile.ts";
import { runChild, runtimeCommand } from "./helpers/child.ts";
import { tempDir } from "./helpers/spool_dir.ts";

const root = new URL("..", import.meta.url).pathname;
const ENTRIES = { mod: "mod.ts", collector: "src/collector.ts", cli: "src/cli.ts" } as const;
const deno = JSON.parse(readFileSync(`${root}deno.json`, "utf8"));

/** The files a published file loads when imported (itself included): its static imports, followed. */
function staticClosure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const imported of staticImports(readFileSync(`${root}dist/${file}`, "utf8"))) staticClosure(imported, seen);
  return seen;
}

/** The source modules bundled into some published files (the build names them on a line of each). */
function sourcesIn(files: Iterable<string>): Set<string> {
  const sources = new Set<string>();
  for (const file of files) {
    const origin = /^\/\/ Bundled from: (.*)$/m.exec(readFileSync(`${root}dist/${file}`, "utf8"))?.[1];
    for (const source of origin?.split(", ") ?? []) sources.add(source);
  }
  return sources;
}

test("deno.json publishes dist/, and each entry takes its types from its source", () => {
  assert.deepEqual(deno.exports, {
    ".": "./dist/mod.js",
    "./collector": "./dist/collector.js",
    "./cli": "./dist/cli.js",
    "./nat-telemetry": "./dist/nat-telemetry.js",
  });
  assert.ok(deno.publish.include.includes("dist/"));
  for (const [name, source] of [...Object.entries(ENTRIES), ["nat-telemetry", "src/nat_telemetry.ts"]]) {
    const text = readFileSync(`${root}dist/${name}.js`, "utf8");
    assert.equal(text.split("\n")[0], `// @ts-self-types="../${source}"`, name);
  }
});

for (const [name, source] of Object.entries(ENTRIES)) {
  test(`dist/${name}.js exports what ${source} exports`, async () => {
    const published = await import(`${root}dist/${name}.js`);
    const original = await import(`${root}${source}`);
    assert.deepEqual(Object.keys(published).sort(), Object.keys(original).sort());
    for (const key of Object.keys(original)) {
      assert.equal(typeof published[key], typeof original[key], key);
      // A bundler renames a class that names itself in its body (esbuild's `_TelemetryEvent`).
      if (typeof original[key] === "function") assert.equal(published[key].name, original[key].name, key);
    }
  });
}

test("a run loads, with its import, all it may call, and not the collector or the CLI; nothing lazily", () => {
  const loaded = staticClosure("mod.js");
  const sources = sourcesIn(loaded);
  const mayCall = ["src/handler.ts", "src/command.ts", "src/spool.ts", "src/exit_strategy.ts", "src/consent.ts"];
  // What only some runs call: a bundler that splits (ncc, webpack) would put it in a file of its own if it were
  // imported lazily, and a Node.js single executable embeds none (docs/at-exit.md#shipping-your-cli).
  mayCall.push("src/prompt.ts", "src/delivery.ts", "src/runtime/node_fetch.ts", "src/python_json.ts");
  for (const needed of mayCall) assert.ok(sources.has(needed), `${needed} is loaded`);
  for (const unneeded of ["src/collector.ts", "src/cli.ts", "src/sender.ts"]) {
    assert.ok(!sources.has(unneeded), `${unneeded} is not loaded`);
  }
  assertNoLazyImport(new Map([...loaded].map((file) => [file, readFileSync(`${root}dist/${file}`, "utf8")])));
  // The entry and the handler's chunk: each file costs Node.js's loader 0.25-1 ms whatever it holds, and one file
  // per module would be 40 or so (docs/performance.md#import-cost).
  assert.equal(loaded.size, 2, `dist/mod.js loads ${[...loaded].join(", ")}`);
});

test("a program that replaced Object.defineProperty still loads the package and runs its command", () => {
  using dir = tempDir();
  const program = `${dir.path}/program.mjs`;
  writeFileSync(
    program,
    "Object.defineProperty = () => { throw new Error('replaced'); };\n" +
      `const { buildPayload, TelemetryEvent, trackCommand } = await import(${
        JSON.stringify(`${root}dist/mod.js`)
      });\n` +
      "class Odd extends TelemetryEvent { constructor() { super('odd'); } parameters() " +
      '{ return JSON.parse(\'{"__proto__":"a","command":"x"}\'); } }\n' +
      "const { parameters } = buildPayload([new Odd()], { sourceClientVersion: 't', sessionId: 's' }).events[0];\n" +
      "const code = await trackCommand({ command: 'run', askConsent: false }, () => 3);\n" +
      "console.log(JSON.stringify({ own: Object.entries(parameters), code }));\n",
  );
  const [command, ...args] = runtimeCommand(program);
  const env = { ...process.env, NAT_TELEMETRY_ENABLED: "0", NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/consent.toml` };
  const run = spawnSync(command, args, { env, encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { own: [["__proto__", "a"], ["command", "x"]], code: 3 });
});

test("the entries share their code: a consent recorded through @nat/telemetry/cli is what @nat/telemetry reads", async () => {
  using dir = tempDir();
  const result = await runChild("published_child.ts", {
    env: {
      NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/consent.toml`,
      NAT_TELEMETRY_ENABLED: undefined,
      DO_NOT_TRACK: undefined,
      CI: undefined,
    },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { before: false, code: 0, after: true });
});

test(
  "a program bundled with @nat/telemetry/cli runs its own command, not nat-telemetry's; the package's entry runs that",
  {
    timeout: 60_000,
  },
  () => {
    using dir = tempDir();
    const program = `${dir.path}/program.mjs`;
    writeFileSync(
      program,
      `import { telemetryCommand } from ${
        JSON.stringify(`${root}dist/cli.js`)
      };\nconsole.log(typeof telemetryCommand);\n`,
    );
    const env = { ...process.env, NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/consent.toml`, NO_COLOR: "1" };
    for (const format of ["esm", "cjs"]) {
      const bundle = `${dir.path}/mycli.${format === "esm" ? "mjs" : "cjs"}`;
      const esbuild = [program, "--bundle", "--platform=node", `--format=${format}`, `--outfile=${bundle}`];
      execFileSync(`${root}node_modules/.bin/esbuild`, esbuild, { stdio: "ignore" });
      // Its users' arguments, which nat-telemetry would take for its own: `disable` would record an opt-out.
      const [command, ...args] = runtimeCommand(bundle);
      const run = spawnSync(command, [...args, "disable"], { env, encoding: "utf8" });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, "function\n", format);
      assert.equal(run.stderr, "", format);
      assert.throws(() => readFileSync(`${dir.path}/consent.toml`), { code: "ENOENT" }, "no decision recorded");
    }
    const [command, ...args] = runtimeCommand(`${root}dist/nat-telemetry.js`);
    const status = spawnSync(command, [...args, "status", "--json"], { env, encoding: "utf8" });
    assert.equal(status.status, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).enabled, false);
  },
);
