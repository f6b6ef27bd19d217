/**
 * Exit latency: what recording one event adds to a CLI run, per runtime and
 * endpoint condition, compared in the same run with the same CLI without
 * telemetry. Run with `deno task bench:exit` (`-- --runs N` for more runs).
 *
 * For each runtime (Deno, Node, Bun, and a `bun build --compile` executable)
 * and each endpoint (healthy, slow 0.5 s, silent, refused, 503 with
 * Retry-After), it times the first run (empty spool, no health state) and the
 * steady state (the runs after it), interleaved with baseline runs, and prints
 * the median wall time added and the median peak memory, as a markdown table.
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({ args: Deno.args, options: { runs: { type: "string", default: "7" } } });
const RUNS = Number(values.runs);
const cli = new URL("./fake_cli.mjs", import.meta.url).pathname;
const sources = new URL("../mod.ts", import.meta.url).pathname;
const work = await Deno.makeTempDir({ prefix: "nat-telemetry-bench-" });

/** The path of a pinned runtime's binary, fetched through npx once. */
async function binary(spec: string): Promise<string> {
  const { stdout } = await new Deno.Command("npx", { args: ["-y", spec, "-e", "console.log(process.execPath)"] })
    .output();
  return new TextDecoder().decode(stdout).trim();
}

async function version(cmd: string[]): Promise<string> {
  const { stdout } = await new Deno.Command(cmd[0], { args: [...cmd.slice(1), "--version"] }).output();
  return new TextDecoder().decode(stdout).split("\n")[0].trim();
}

const node = await binary("node@24.9.0");
const bun = await binary("bun@1.4.5");
// Node and Bun load the package as npm users get it from JSR: JavaScript (here one bundled file). Deno loads the
// TypeScript sources, as from jsr: (transpiled once, then cached). Node's own type stripping would add ~100 ms.
const bundle = `${work}/mod.js`;
await new Deno.Command(bun, { args: ["build", sources, "--target=node", "--outfile", bundle], stdout: "null" })
  .output();
const compiled = `${work}/fake_cli`;
await new Deno.Command(bun, {
  args: ["build", "--compile", cli, "--outfile", compiled],
  env: { NAT_BENCH_MODULE: bundle },
  stdout: "null",
}).output();

const runtimes: { label: string; cmd: string[]; module: string; version: string }[] = [
  { label: "deno", cmd: [Deno.execPath(), "run", "-A", cli], module: sources, version: `deno ${Deno.version.deno}` },
  { label: "node", cmd: [node, cli], module: bundle, version: `node ${await version([node])}` },
  { label: "bun", cmd: [bun, cli], module: bundle, version: `bun ${await version([bun])}` },
  { label: "bun --compile", cmd: [compiled], module: bundle, version: `bun ${await version([bun])}, compiled` },
];

// The endpoints: real loopback servers.
const http = (handler: (request: Request) => Promise<Response>) =>
  Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    await request.arrayBuffer();
    return await handler(request);
  });
const healthy = http(() => Promise.resolve(new Response(null, { status: 204 })));
const slow = http(() => new Promise((resolve) => setTimeout(() => resolve(new Response(null, { status: 204 })), 500)));
const unavailable = http(() => Promise.resolve(new Response(null, { status: 503, headers: { "retry-after": "30" } })));
const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const held: Deno.Conn[] = [];
(async () => {
  for await (const conn of silent) held.push(conn);
})();
const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const refusedPort = (closed.addr as Deno.NetAddr).port;
closed.close();

const url = (port: number) => `http://127.0.0.1:${port}/v1.1/events/json`;
const endpoints: [string, string][] = [
  ["healthy", url(healthy.addr.port)],
  ["slow 0.5 s", url(slow.addr.port)],
  ["silent", url((silent.addr as Deno.NetAddr).port)],
  ["refused", url(refusedPort)],
  ["503 + Retry-After", url(unavailable.addr.port)],
];

/** One run: wall time in ms and peak RSS in MB. */
async function once(
  runtime: { cmd: string[]; module: string },
  telemetry: boolean,
  endpoint: string,
  spoolDir: string,
) {
  const { cmd, module } = runtime;
  const started = performance.now();
  const { stderr, code } = await new Deno.Command(cmd[0], {
    args: [...cmd.slice(1), ...(telemetry ? ["telemetry"] : [])],
    env: {
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_ENDPOINT: endpoint,
      NAT_TELEMETRY_SPOOL_DIR: spoolDir,
      NAT_BENCH_MODULE: module,
    },
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited with ${code}`);
  const rss = Number(new TextDecoder().decode(stderr).match(/maxrss_kb=(\d+)/)?.[1] ?? NaN) / 1024;
  return { ms, rss };
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const rows: string[] = [];
for (const runtime of runtimes) {
  for (const [name, endpoint] of endpoints) {
    const baseline: number[] = [];
    const baselineRss: number[] = [];
    const first: number[] = [];
    const steady: number[] = [];
    const rss: number[] = [];
    // First runs: each with an empty spool and no health state.
    for (let i = 0; i < RUNS; i++) {
      const dir = await Deno.makeTempDir({ dir: work });
      const base = await once(runtime, false, endpoint, dir);
      baseline.push(base.ms);
      baselineRss.push(base.rss);
      const run = await once(runtime, true, endpoint, dir);
      first.push(run.ms);
      rss.push(run.rss);
    }
    // Steady state: the runs after a first run, sharing its spool and health state.
    const dir = await Deno.makeTempDir({ dir: work });
    await once(runtime, true, endpoint, dir);
    for (let i = 0; i < RUNS; i++) {
      baseline.push((await once(runtime, false, endpoint, dir)).ms);
      steady.push((await once(runtime, true, endpoint, dir)).ms);
    }
    const base = median(baseline);
    rows.push(
      `| ${runtime.label} | ${name} | ${base.toFixed(0)} | ${(median(first) - base).toFixed(0)} | ${
        (median(steady) - base).toFixed(0)
      } | ${median(baselineRss).toFixed(1)} | ${median(rss).toFixed(1)} |`,
    );
    console.error(rows.at(-1));
  }
}

console.log(`\n### Exit latency: one event per run, median of ${RUNS} runs\n`);
console.log(`Runtimes: ${runtimes.map((r) => r.version).join("; ")}. Exit budget: 2 s (the default).\n`);
console.log(
  "| runtime | endpoint | baseline run (ms) | added, first run (ms) | added, steady state (ms) | peak RSS baseline (MB) | peak RSS with telemetry, first run (MB) |",
);
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
for (const row of rows) console.log(row);

for (const conn of held) conn.close();
silent.close();
await Promise.all([healthy.shutdown(), slow.shutdown(), unavailable.shutdown()]);
await Deno.remove(work, { recursive: true });
