/**
 * The demo (`deno task demo`): the local collector, and the example CLI
 * (`examples/cli.ts`, built on trackCommand) run under Deno, Node and Bun
 * while the endpoint is healthy, then down, then back. Each run hands its
 * event to a sender process at exit (the default outside CI) and ends at once;
 * the demo waits for the sender after each run. It shows each run's wall time,
 * what was spooled once the sender was done, and what arrived. Nothing leaves loopback and
 * nothing is written outside a temporary directory.
 *
 * @module
 */
import { type Collector, startCollector } from "../src/collector.ts";

const root = new URL("..", import.meta.url).pathname;
const work = await Deno.makeTempDir({ prefix: "nat-telemetry-demo-" });

/** The path of a pinned runtime's binary, fetched through npx once. */
async function binary(spec: string): Promise<string> {
  const { stdout } = await new Deno.Command("npx", { args: ["-y", spec, "-e", "console.log(process.execPath)"] })
    .output();
  return new TextDecoder().decode(stdout).trim();
}

const runtimes: Record<string, string[]> = {
  "deno 2.9.6": [Deno.execPath(), "run", "-A"],
  "node 24.9.0": [await binary("node@24.9.0")],
  "bun 1.4.5": [await binary("bun@1.4.5")],
};

const received: string[] = [];
let collector: Collector | undefined;
let port = 0;
async function endpoint(mode: "healthy" | "silent" | "down") {
  await collector?.close();
  collector = undefined;
  if (mode === "down") return;
  collector = await startCollector({ port, silent: mode === "silent", log: (line) => received.push(line) });
  port = collector.port;
}
await endpoint("healthy");
const url = collector!.url;

const env = {
  NAT_TELEMETRY_ENABLED: "1",
  NAT_TELEMETRY_ENDPOINT: url,
  NAT_TELEMETRY_SPOOL_DIR: `${work}/spool`,
  NAT_TELEMETRY_CONSENT_FILE: `${work}/telemetry.toml`,
};

function spooledCount(): number {
  try {
    return [...Deno.readDirSync(`${work}/spool`)]
      .filter((entry) => entry.name.endsWith(".jsonl"))
      .reduce((sum, entry) => sum + Number(entry.name.split("-")[2] ?? 0), 0);
  } catch {
    return 0;
  }
}

/** Gives a sender time to start, then waits (at most 10 s) until none works on the spool: its locks are gone. */
async function senderDone(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const locked = () => {
    try {
      return [...Deno.readDirSync(`${work}/spool`)].some(({ name }) => /^sender-.*\.lock$/.test(name));
    } catch {
      return false;
    }
  };
  for (let waited = 0; waited < 10_000 && locked(); waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const rows: string[] = [];
async function run(label: string, runtime: string, program: string, args: string[]) {
  const started = performance.now();
  const { code } = await new Deno.Command(runtimes[runtime][0], {
    args: [...runtimes[runtime].slice(1), `${root}${program}`, ...args],
    env,
    stdout: "null",
    stderr: "null",
  }).output();
  const ms = performance.now() - started;
  await senderDone();
  rows.push(`| ${label} | ${runtime} | \`${args.join(" ")}\` | ${code} | ${ms.toFixed(0)} ms | ${spooledCount()} |`);
}

await run("healthy", "deno 2.9.6", "examples/cli.ts", ["greet", "demo"]);
await run("healthy", "node 24.9.0", "examples/cli.ts", ["crash"]);
await run("healthy", "bun 1.4.5", "examples/cli.ts", ["fail"]);
await endpoint("silent");
await run("silent: the sender waits, not the run", "node 24.9.0", "examples/cli.ts", ["greet"]);
await run("silent: known down, spools at once", "bun 1.4.5", "examples/cli.ts", ["greet"]);
await endpoint("down");
await run("refused: still known down", "deno 2.9.6", "examples/cli.ts", ["fail"]);
await endpoint("healthy");
await run("back: `nat-telemetry flush` delivers now", "deno 2.9.6", "src/cli.ts", ["flush"]);
await run("back", "bun 1.4.5", "examples/cli.ts", ["greet", "again"]);

console.log(`Collector: ${url} (loopback). Spool and consent file: ${work}\n`);
console.log("| endpoint | runtime | command | exit code | wall time | events spooled once the sender is done |");
console.log("| --- | --- | --- | ---: | ---: | ---: |");
for (const row of rows) console.log(row);
console.log("\nWhat the collector received, in order (one line per event, repeats dropped):\n");
for (const line of received) console.log(`  ${line}`);
console.log(
  "\nNo run waited on the network: each spooled its event and handed it to a sender process. While the" +
    " endpoint was silent, the sender waited out its budget and left the event spooled, marking the endpoint down;" +
    " the next runs saw that and only spooled. `nat-telemetry flush` delivered the spool when it came back, each" +
    " event with its original timestamp.",
);

await collector?.close();
await Deno.remove(work, { recursive: true });
