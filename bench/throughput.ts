/**
 * Throughput for long-lived hosts: events per second through enqueue,
 * batching and delivery to the local collector, in both wire formats (NAT
 * envelope, OTLP logs) with the bytes each sends per event, against a baseline
 * that only builds the same NAT envelopes and POSTs them, timed once the first
 * events have been sent (a long-lived host) and over those first events (a
 * fresh process, still compiling what it runs); and memory under a sustained
 * stream while the endpoint is down, which must stay flat at the handler's
 * cap (1,000 events). Each runtime loads the package as published (`dist/`).
 * Run with `deno task bench:throughput` (`-- --runs N`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startCollector } from "../src/collector.ts";
import { benchArgs, benchDir, median, runtimes, timed } from "./common.ts";

/**
 * A full garbage collection in this process, which runs the collector: what earlier runs' collectors received
 * (200,000 events each) is garbage here, and collected in the middle of a later run it slowed that run alone (each
 * round's NAT / baseline ratio spread over 0.77-1.22 without it, over about 0.1 with it, 9 rounds under Deno and Bun).
 * Checked before anything starts, so that a run without the flag leaves nothing behind.
 */
const collectGarbage = (globalThis as { gc?: () => void }).gc;
if (!collectGarbage) {
  console.error("run with --v8-flags=--expose-gc, as `deno task bench:throughput` does");
  Deno.exit(1);
}

const { values } = parseArgs({
  args: benchArgs(),
  options: { runs: { type: "string", default: "5" } },
});
const RUNS = Number(values.runs);
const EVENTS = 200_000;
/** The first events of each run, timed apart: what a fresh process delivers while the runtime compiles its code. */
const WARM_EVENTS = 20_000;
const OUTAGE_EVENTS = 200_000;

const { deno, node, bun, versions } = await runtimes();
const published = new URL("../dist/mod.js", import.meta.url).pathname;
const child = `${benchDir}throughput_child.mjs`;
const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const refused = `http://127.0.0.1:${(closed.addr as Deno.NetAddr).port}/v1.1/events/json`;
closed.close();

// Each runtime with its garbage collector exposed, so that memory samples measure what is live.
const cases: [string, string[], string][] = [
  ["deno", [deno, "run", "-A", "--v8-flags=--expose-gc", child], published],
  ["node", [node, "--expose-gc", child], published],
  ["bun", [bun, child], published],
];

async function measure(
  cmd: string[],
  module: string,
  args: string[],
  endpoint: string,
  format = "nat",
) {
  const env = {
    NAT_TELEMETRY_ENDPOINT: endpoint,
    NAT_BENCH_MODULE: module,
    NAT_BENCH_FORMAT: format,
  };
  const run = await timed([...cmd, ...args], env);
  if (run.code !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!);
}

/** One delivery run against a fresh collector: the rate, and the request bytes per event the collector received. */
async function delivered(cmd: string[], module: string, mode: "deliver" | "baseline", format: "nat" | "otlp") {
  collectGarbage!();
  const collector = await startCollector();
  try {
    const url = format === "otlp" ? collector.otlpUrl : collector.url;
    const rates = await measure(cmd, module, [mode, String(EVENTS), String(WARM_EVENTS)], url, format);
    return {
      later: rates.laterEventsPerSecond as number,
      first: rates.firstEventsPerSecond as number,
      bytesPerEvent: collector.bytesReceived / collector.stats.accepted,
    };
  } finally {
    await collector.close();
  }
}

const throughput: string[] = [];
const memory: string[] = [];
for (const [runtime, cmd, module] of cases) {
  const nat: number[] = [];
  const otlp: number[] = [];
  const baseline: number[] = [];
  /** Each round's NAT rate over its baseline's, the two run back to back: long-lived, and over the first events. */
  const ratios: number[] = [];
  const firstRatios: number[] = [];
  const bytes = { nat: [] as number[], otlp: [] as number[] };
  const perEvent = async (format: "nat" | "otlp") => {
    const rates = await delivered(cmd, module, "deliver", format);
    bytes[format].push(rates.bytesPerEvent);
    return rates;
  };
  const runBaseline = () => delivered(cmd, module, "baseline", "nat");
  for (let i = 0; i < RUNS; i++) {
    // In alternating order, so that neither always runs on a machine the other has just warmed or loaded.
    let baselineRates, natRates;
    if (i % 2 === 0) {
      baselineRates = await runBaseline();
      natRates = await perEvent("nat");
    } else {
      natRates = await perEvent("nat");
      baselineRates = await runBaseline();
    }
    baseline.push(baselineRates.later);
    nat.push(natRates.later);
    ratios.push(natRates.later / baselineRates.later);
    firstRatios.push(natRates.first / baselineRates.first);
    otlp.push((await perEvent("otlp")).later);
  }
  const ratio = (values: number[]) =>
    `${median(values).toFixed(2)} (${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)})`;
  throughput.push(
    `| ${runtime} | ${median(nat).toFixed(0)} | ${median(bytes.nat).toFixed(0)} | ${median(otlp).toFixed(0)} | ${
      median(bytes.otlp).toFixed(0)
    } | ${median(baseline).toFixed(0)} | ${ratio(ratios)} | ${ratio(firstRatios)} |`,
  );
  const outage = await measure(
    cmd,
    module,
    ["outage", String(OUTAGE_EVENTS)],
    refused,
  );
  const samples: { heapMb: number; rssMb: number }[] = outage.samples;
  memory.push(
    `| ${runtime} | ${samples.map((s) => s.heapMb.toFixed(1)).join(" → ")} | ${samples.at(-1)!.rssMb.toFixed(0)} | ${
      outage.stats.dropped.buffer_full ?? 0
    } | ${outage.stats.dlq + outage.stats.queued} |`,
  );
}

console.log(
  `\n### Throughput for long-lived hosts\n\n${versions}. ${EVENTS} events per run, median of ${RUNS} runs. Rates ` +
    `are those after the first ${WARM_EVENTS} events (a long-lived host); the last column is the ratio over those ` +
    "first events (a fresh process, the runtime still compiling the code it runs, more of it for the handler).",
);
console.log(
  "The baseline builds the same NAT envelopes with buildPayload and POSTs them with fetch, nothing else. Bytes per " +
    "event: request bodies over events, as the local collector received them. NAT / baseline: the median (and range) " +
    "of each round's ratio, the two run back to back in alternating order.\n",
);
console.log(
  "| runtime | NAT envelope (events/s) | NAT (bytes/event) | OTLP logs (events/s) | OTLP (bytes/event) | baseline (events/s) | NAT / baseline | NAT / baseline, first events |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const row of throughput) console.log(row);
console.log(`\n### Memory under a sustained stream, endpoint down\n`);
console.log(
  `${OUTAGE_EVENTS} events in chunks of 500 against a refused endpoint; the live heap after a full collection, ` +
    "sampled every tenth of the way.\n",
);
console.log(
  "| runtime | live heap (MB), start → end | RSS at the end (MB) | dropped as buffer_full | held at the end (cap 1000) |",
);
console.log("| --- | --- | ---: | ---: | ---: |");
for (const row of memory) console.log(row);
