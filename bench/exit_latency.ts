/**
 * Exit latency: what recording one event adds to a CLI run, per runtime, client
 * and endpoint condition, compared in the same run with the same CLI without
 * telemetry. Run with `deno task bench:exit` (`-- --runs N` for more runs).
 *
 * @nat/telemetry runs as published (`dist/`) under Deno, Node and Bun, and as a
 * `bun build --compile` executable; posthog-node and @segment/analytics-node
 * run under Node. Endpoints: healthy, slow (0.5 s), silent (accepts, never
 * answers), refused, and 503 with Retry-After. "First run" starts with an empty
 * spool; "steady state" is the runs after it (the peers keep no state between
 * runs). A run is killed at the cap and reported as "> cap".
 *
 * WAN rows: the same CLIs against an HTTPS endpoint (a certificate from a test
 * CA made here) behind a latency proxy at 0, 50, 100 and 200 ms round trip
 * time, steady state: the time the exit adds, when the event reached the
 * server (from the run's start), and the CLI's peak memory. `--wan-only` or
 * `--loopback-only` runs one part.
 *
 * @nat/telemetry takes the exit path it takes outside CI: the hand-off to a
 * sender process (set CI=true to measure the in-process exit instead).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { makeCertificate } from "../tests/helpers/certificate.ts";
import { benchArgs, benchDir, esbuildBundle, installPeers, median, runtimes, timed } from "./common.ts";
import { startLatencyProxy } from "./latency_proxy.ts";

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    runs: { type: "string", default: "7" },
    "wan-only": { type: "boolean" },
    "loopback-only": { type: "boolean" },
  },
});
const RUNS = Number(values.runs);
const PEER_RUNS = Math.min(RUNS, 3);
const CAP_MS = 15_000;

await installPeers();
const { deno, node, bun, versions } = await runtimes();
const work = await Deno.makeTempDir({ prefix: "nat-telemetry-bench-" });
const cli = `${benchDir}fake_cli.mjs`;
const published = new URL("../dist/mod.js", import.meta.url).pathname;
const esm = await esbuildBundle(`${work}/mod.esbuild.mjs`, "esm");
const cjs = await esbuildBundle(`${work}/mod.esbuild.cjs`, "cjs");
const compiled = `${work}/fake_cli`;
await new Deno.Command(bun, {
  args: ["build", "--compile", cli, "--outfile", compiled],
  cwd: work, // bun writes a temporary file in its working directory while it compiles
  stdout: "null",
}).output();

interface Target {
  runtime: string;
  client: "telemetry" | "posthog" | "segment";
  cmd: string[];
  module: string;
}
const targets: Target[] = [
  {
    runtime: "deno",
    client: "telemetry",
    cmd: [deno, "run", "-A", cli],
    module: published,
  },
  { runtime: "node", client: "telemetry", cmd: [node, cli], module: published },
  {
    runtime: "node (esbuild ESM bundle)",
    client: "telemetry",
    cmd: [node, cli],
    module: esm,
  },
  {
    runtime: "node (esbuild CJS bundle)",
    client: "telemetry",
    cmd: [node, cli],
    module: cjs,
  },
  { runtime: "bun", client: "telemetry", cmd: [bun, cli], module: published },
  {
    runtime: "bun --compile",
    client: "telemetry",
    cmd: [compiled],
    module: published,
  },
  { runtime: "node", client: "posthog", cmd: [node, cli], module: published },
  { runtime: "node", client: "segment", cmd: [node, cli], module: published },
];
const clientName = {
  telemetry: "@nat/telemetry",
  posthog: "posthog-node 5.70.0",
  segment: "@segment/analytics-node 3.1.0",
};

// The endpoints: real loopback servers.
const http = (answer: () => Promise<Response>) =>
  Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      await request.arrayBuffer();
      return await answer();
    },
  );
const healthy = http(() => Promise.resolve(new Response(null, { status: 200 })));
const slow = http(() => new Promise((resolve) => setTimeout(() => resolve(new Response(null, { status: 200 })), 500)));
const unavailable = http(() =>
  Promise.resolve(
    new Response(null, { status: 503, headers: { "retry-after": "30" } }),
  )
);
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

/** One run: wall time and what the exit added in ms (Infinity when capped), and peak RSS in MB. */
async function once(
  target: Target,
  withClient: boolean,
  endpoint: string,
  spoolDir: string,
  extraEnv: Record<string, string> = {},
) {
  const cmd = [...target.cmd, ...(withClient ? [target.client] : [])];
  const env = {
    ...extraEnv,
    NAT_TELEMETRY_ENABLED: "1",
    NAT_TELEMETRY_ENDPOINT: endpoint,
    NAT_TELEMETRY_SPOOL_DIR: spoolDir,
    NAT_BENCH_MODULE: target.module,
  };
  const run = await timed(cmd, env, CAP_MS);
  const ended = performance.timeOrigin + performance.now();
  if (!run.capped && run.code !== 0) {
    throw new Error(`${cmd.join(" ")} exited with ${run.code}: ${run.stderr}`);
  }
  const rss = Number(run.stderr.match(/maxrss_kb=(\d+)/)?.[1] ?? NaN) / 1024;
  return {
    ms: run.capped ? Infinity : run.ms,
    exitMs: run.capped ? Infinity : exitTail(run.stderr, ended),
    rss,
  };
}

/** From the end of the CLI's own work (its `main_done_ms` line) to the end of the process, as this process saw it. */
function exitTail(stderr: string, ended: number): number {
  return ended - Number(stderr.match(/main_done_ms=([\d.]+)/)?.[1] ?? NaN);
}

const added = (values: number[], base: number) => {
  const m = median(values);
  return Number.isFinite(m) ? (m - base).toFixed(0) : `> ${CAP_MS}`;
};

/** Waits until no sender works on a spool (its locks are gone), so that one run's sender does not slow the next. */
async function sendersDone(spoolDir: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  const locked = () => [...Deno.readDirSync(spoolDir)].some(({ name }) => /^sender-.*\.lock$/.test(name));
  for (let waited = 0; waited < CAP_MS && locked(); waited += 25) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const rows: string[] = [];
for (const target of values["wan-only"] ? [] : targets) {
  const peer = target.client !== "telemetry";
  const runs = peer ? PEER_RUNS : RUNS;
  for (const [name, endpoint] of endpoints) {
    const baseline: number[] = [];
    const baselineExit: number[] = [];
    const baselineRss: number[] = [];
    const first: number[] = [];
    const steady: number[] = [];
    const steadyExit: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < runs; i++) {
      const dir = await Deno.makeTempDir({ dir: work });
      const base = await once(target, false, endpoint, dir);
      baseline.push(base.ms);
      baselineRss.push(base.rss);
      const run = await once(target, true, endpoint, dir);
      first.push(run.ms);
      if (Number.isFinite(run.rss)) rss.push(run.rss);
      await sendersDone(dir);
    }
    if (!peer) {
      const dir = await Deno.makeTempDir({ dir: work });
      await once(target, true, endpoint, dir);
      await sendersDone(dir);
      for (let i = 0; i < runs; i++) {
        const base = await once(target, false, endpoint, dir);
        baseline.push(base.ms);
        baselineExit.push(base.exitMs);
        const run = await once(target, true, endpoint, dir);
        steady.push(run.ms);
        steadyExit.push(run.exitMs);
        await sendersDone(dir);
      }
    }
    const base = median(baseline);
    const row = `| ${target.runtime} | ${clientName[target.client]} | ${name} | ${base.toFixed(0)} | ${
      added(first, base)
    } | ${peer ? "same (no state)" : added(steady, base)} | ${
      peer ? "same (no state)" : added(steadyExit, median(baselineExit))
    } | ${median(baselineRss).toFixed(1)} | ${rss.length ? median(rss).toFixed(1) : "n/a"} |`;
    rows.push(row);
    console.error(row);
  }
}

if (rows.length > 0) {
  console.log(`\n### Exit latency: one event per CLI run\n`);
  console.log(
    `${versions}. Median of ${RUNS} runs (${PEER_RUNS} for peers), each compared with the same CLI without ` +
      `telemetry; runs killed at ${CAP_MS / 1000} s. "Added at exit": from the end of the CLI's own work to the end ` +
      `of the process. @nat/telemetry's exit budget: 2 s (the default); its exit ` +
      `path: ${Deno.env.get("CI") ? "in process (CI is set)" : "the hand-off to a sender process"}.\n`,
  );
  console.log(
    "| runtime | client | endpoint | baseline run (ms) | added, first run (ms) | added, steady state (ms) | added at exit, steady state (ms) | peak RSS baseline (MB) | peak RSS with client (MB) |",
  );
  console.log("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const row of rows) console.log(row);
}

// The WAN: HTTPS behind a latency proxy. The server notes when each request arrives.
const certificate = values["loopback-only"] ? undefined : makeCertificate(work);
if (certificate) {
  const arrivals: number[] = [];
  const https = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      cert: certificate.cert,
      key: certificate.key,
      onListen() {},
    },
    async (request) => {
      await request.arrayBuffer();
      arrivals.push(performance.now());
      return new Response("{}", {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    },
  );
  const trust = {
    NODE_EXTRA_CA_CERTS: certificate.caPath,
    DENO_CERT: certificate.caPath,
  };
  const wanRows: string[] = [];
  for (const rtt of [0, 50, 100, 200]) {
    const proxy = startLatencyProxy(https.addr.port, rtt);
    const endpoint = `https://127.0.0.1:${proxy.port}/v1.1/events/json`;
    for (const target of targets) {
      const runs = target.client === "telemetry" ? RUNS : PEER_RUNS;
      const dir = await Deno.makeTempDir({ dir: work });
      const one = async (withClient: boolean) => {
        const seen = arrivals.length;
        const started = performance.now();
        const run = await once(target, withClient, endpoint, dir, trust);
        let arrivedMs = NaN;
        if (withClient) {
          for (
            let waited = 0;
            arrivals.length === seen && waited < CAP_MS;
            waited += 5
          ) {
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          arrivedMs = arrivals.length > seen ? arrivals[seen] - started : Infinity;
          await sendersDone(dir);
        }
        return { ...run, arrivedMs };
      };
      await one(true); // the first run: the spool directory is made, the runtime's caches are warm
      const baseline: number[] = [];
      const baselineExit: number[] = [];
      const runsMs: number[] = [];
      const exits: number[] = [];
      const arrived: number[] = [];
      const rss: number[] = [];
      for (let i = 0; i < runs; i++) {
        const base = await one(false);
        baseline.push(base.ms);
        baselineExit.push(base.exitMs);
        const run = await one(true);
        runsMs.push(run.ms);
        exits.push(run.exitMs);
        arrived.push(run.arrivedMs);
        if (Number.isFinite(run.rss)) rss.push(run.rss);
      }
      const base = median(baseline);
      const row = `| ${rtt} | ${target.runtime} | ${clientName[target.client]} | ${base.toFixed(0)} | ${
        added(runsMs, base)
      } | ${added(exits, median(baselineExit))} | ${median(arrived).toFixed(0)} | ${
        rss.length ? median(rss).toFixed(1) : "n/a"
      } |`;
      wanRows.push(row);
      console.error(row);
    }
    proxy.close();
  }
  await https.shutdown();
  console.log(`\n### Exit latency over a WAN: HTTPS behind a latency proxy\n`);
  console.log(
    `${versions}. Steady state (after a first run), median of ${RUNS} runs (${PEER_RUNS} for peers), each ` +
      `compared with the same CLI without telemetry. The proxy adds the round trip time to every exchange and one ` +
      `more for the TCP handshake. "Added to the run": the whole run, loading the client included; "added at exit": ` +
      `from the end of the CLI's own work (the enqueue done) to the end of the process. "Event at the server" is ` +
      `from the run's start. @nat/telemetry's exit path: ` +
      `${Deno.env.get("CI") ? "in process (CI is set)" : "the hand-off to a sender process"}.\n`,
  );
  console.log(
    "| RTT (ms) | runtime | client | baseline run (ms) | added to the run (ms) | added at exit (ms) | event at the server after (ms) | peak RSS with client (MB) |",
  );
  console.log("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const row of wanRows) console.log(row);
} else if (!values["loopback-only"]) {
  console.log(
    "\n(WAN rows skipped: openssl is needed to make the test certificate.)",
  );
}

for (const conn of held) conn.close();
silent.close();
await Promise.all([
  healthy.shutdown(),
  slow.shutdown(),
  unavailable.shutdown(),
]);
await Deno.remove(work, { recursive: true });
