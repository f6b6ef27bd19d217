/**
 * Import cost: the time a process takes to load the package, beyond an empty
 * script, in each runtime, and posthog-node and @segment/analytics-node under
 * Node. Median of several runs, each paired with an empty run in the same
 * sequence. Node.js and Bun load the JavaScript as JSR's npm layer serves it
 * (one file per module) and as one bundled file (what a CLI bundled with
 * esbuild or `bun build` loads). Run with `deno task bench:import`
 * (`-- --runs N`).
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
const js = await bundle(bun, `${work}/mod.js`);
const layout = await npmLayout(`${work}/npm`);
const sources = new URL("../mod.ts", import.meta.url).pathname;
const probe = `${benchDir}import_probe.mjs`;

const cases: [string, string, string[], string][] = [
  [
    "deno",
    "@nat/telemetry (TypeScript sources)",
    [deno, "run", "-A", probe],
    sources,
  ],
  ["node", "@nat/telemetry (JavaScript, as JSR's npm layer serves it)", [
    node,
    probe,
  ], layout],
  ["node", "@nat/telemetry (JavaScript, one bundled file)", [node, probe], js],
  ["bun", "@nat/telemetry (JavaScript, as JSR's npm layer serves it)", [
    bun,
    probe,
  ], layout],
  ["bun", "@nat/telemetry (JavaScript, one bundled file)", [bun, probe], js],
  ["bun", "@nat/telemetry (TypeScript sources)", [bun, probe], sources],
  ["node", "posthog-node 5.70.0", [node, probe], "posthog-node"],
  [
    "node",
    "@segment/analytics-node 3.1.0",
    [node, probe],
    "@segment/analytics-node",
  ],
];

console.log(
  `\n### Import cost\n\n${versions}. Median of ${RUNS} runs each, against an empty script in the same run.\n`,
);
console.log(
  "| runtime | module | empty script (ms) | with the import (ms) | added (ms) |",
);
console.log("| --- | --- | ---: | ---: | ---: |");
for (const [runtime, label, cmd, module] of cases) {
  // Warm up: the first run of a runtime pays for its own caches.
  await timed([...cmd, module]);
  const empty: number[] = [];
  const loaded: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    empty.push((await timed(cmd)).ms);
    const run = await timed([...cmd, module]);
    if (run.code !== 0) throw new Error(`${label}: ${run.stderr}`);
    loaded.push(run.ms);
  }
  const [base, withImport] = [median(empty), median(loaded)];
  console.log(
    `| ${runtime} | ${label} | ${base.toFixed(1)} | ${withImport.toFixed(1)} | ${(withImport - base).toFixed(1)} |`,
  );
}
await Deno.remove(work, { recursive: true });
