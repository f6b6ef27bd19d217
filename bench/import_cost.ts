/**
 * Import cost: the time a process takes to load the package, beyond an empty
 * script, in each runtime, and posthog-node and @segment/analytics-node under
 * Node. Median of several runs, each paired with an empty run in the same
 * sequence. The package as published (`dist/`: Deno loads it as it is,
 * Node.js and Bun as JSR's npm layer serves it), beside the same code one
 * file per module (as it was published before `dist/`) and as one bundled
 * file (what a CLI bundled with esbuild or `bun build` loads). Run with
 * `deno task bench:import` (`-- --runs N`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { benchArgs, benchDir, bundle, installPeers, median, npmLayout, runtimes, timed } from "./common.ts";

const { values } = parseArgs({
  args: benchArgs(),
  options: { runs: { type: "string", default: "15" } },
});
const RUNS = Number(values.runs);

await installPeers();
const { deno, node, bun, versions } = await runtimes();
const work = await Deno.makeTempDir({ prefix: "nat-telemetry-bench-" });
// `.mjs`: a `.js` file with no `"type": "module"` above it, Node.js compiles as CommonJS first (~3 ms more).
const js = await bundle(bun, `${work}/mod.mjs`);
const layout = await npmLayout(`${work}/npm`);
const published = new URL("../dist/mod.js", import.meta.url).pathname;
const sources = new URL("../mod.ts", import.meta.url).pathname;
const probe = `${benchDir}import_probe.mjs`;

const cases: [string, string, string[], string][] = [
  ["deno", "@nat/telemetry as published (dist/)", [deno, "run", "-A", probe], published],
  ["deno", "@nat/telemetry (TypeScript sources, one file per module)", [deno, "run", "-A", probe], sources],
  ["node", "@nat/telemetry as published (JSR's npm layer)", [node, probe], `${work}/npm/dist/mod.js`],
  ["node", "@nat/telemetry (one JavaScript file per module)", [node, probe], layout],
  ["node", "@nat/telemetry (JavaScript, one bundled file)", [node, probe], js],
  ["bun", "@nat/telemetry as published (JSR's npm layer)", [bun, probe], `${work}/npm/dist/mod.js`],
  ["bun", "@nat/telemetry (JavaScript, one bundled file)", [bun, probe], js],
  ["node", "posthog-node 5.70.0", [node, probe], "posthog-node"],
  ["node", "@segment/analytics-node 3.1.0", [node, probe], "@segment/analytics-node"],
];

console.log(
  `\n### Import cost\n\n${versions}. ${RUNS} rounds, each running every case once, interleaved, and an empty ` +
    "script before each; medians. In process: the import alone, timed inside the process (its start and exit, " +
    "and their noise, left out).\n",
);
console.log(
  "| runtime | module | empty script (ms) | with the import (ms) | added (ms) | in process (ms) |",
);
console.log("| --- | --- | ---: | ---: | ---: | ---: |");
// Warm up: the first run of a runtime pays for its own caches.
for (const [, , cmd, module] of cases) await timed([...cmd, module]);
const runs = cases.map(() => ({ empty: [] as number[], loaded: [] as number[], inProcess: [] as number[] }));
for (let round = 0; round < RUNS; round++) {
  for (const [i, [, label, cmd, module]] of cases.entries()) {
    runs[i].empty.push((await timed(cmd)).ms);
    const run = await timed([...cmd, module]);
    if (run.code !== 0) throw new Error(`${label}: ${run.stderr}`);
    runs[i].loaded.push(run.ms);
    runs[i].inProcess.push(Number(run.stdout));
  }
}
for (const [i, [runtime, label]] of cases.entries()) {
  const [base, withImport] = [median(runs[i].empty), median(runs[i].loaded)];
  const added = (withImport - base).toFixed(1);
  const inProcess = median(runs[i].inProcess).toFixed(1);
  console.log(
    `| ${runtime} | ${label} | ${base.toFixed(1)} | ${withImport.toFixed(1)} | ${added} | ${inProcess} |`,
  );
}
await Deno.remove(work, { recursive: true });
