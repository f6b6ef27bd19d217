/**
 * Footprint: what one CLI run pays for telemetry, loading included, per
 * runtime and shipping form, against the same CLI without it, with
 * posthog-node and @segment/analytics-node in the same run. Run with
 * `deno task bench:footprint` (`-- --runs N`, default 15).
 *
 * The CLI (`footprint_cli.mjs`) does no work of its own, so every millisecond
 * and megabyte above the baseline is the client's. Each phase's cost is read
 * by difference between variants of the same CLI, run interleaved: loading
 * the package; recording one command with `trackCommand` (to nowhere, so the
 * exit does only its deciding); the exit's spool write (an endpoint marked
 * down: no sender is started), with telemetry decided by the environment and
 * by a consent file (read and parsed, as most users' runs); the sender's spawn (a healthy endpoint: the
 * whole hand-off, what a user's run pays); a second command recorded in the same process (what is left once
 * what happens once per process, compiling the code and the runtime's first calls, is paid). Peak memory is each process's own
 * (VmHWM from /proc), and so is its private memory at exit (RssAnon: what only it holds, where the
 * rest of RSS is mostly the runtime's executable mapped from disk). Senders are waited for between runs, so none competes
 * with the next run for the CPU. Where the package is loaded one file per
 * module, a last variant loads as many empty modules: the runtime's own cost
 * per module, whatever the modules hold (the floor of that layout).
 *
 * Forms: the package as published (`dist/`, the entries `deno task build:dist`
 * bundles) under Deno, by a CLI of Deno's own APIs and by one that has loaded
 * Deno's Node.js layer (`node:process`: npm code does), and under Node.js and Bun as JSR's npm layer serves it,
 * and under Node.js with its compile cache on (`NODE_COMPILE_CACHE`, what a CLI
 * gets from `module.enableCompileCache()`); the same code one file per module
 * (each TypeScript source, or its JavaScript), as it was before `dist/`, the
 * baseline of that change; `dist/` built without its functions compiled
 * with their chunk (`build_dist.ts --lazy-into`), the baseline of that
 * rewrite, under Deno and Node.js; `dist/` with each function that none of the
 * form's runs calls emptied (`unreached.ts`, from V8's coverage of them), under
 * Deno and Node.js: the most that loading only what a run needs could save
 * (the benchmark checks that its hand-offs still deliver); an esbuild bundle of the package under Node.js;
 * `bun build --compile` executables with and without the package, and
 * compiled to bytecode (`--bytecode`). Two last variants of each form give
 * the floors of the rest: one starts a process and nothing else (`/bin/true`,
 * in a session of its own, as the hand-off starts its sender), the floor of a
 * hand-off's spawn; one makes the first call of each runtime API that a run
 * which spools makes, without the package, the floor of setup, event and spool.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { PROMPT_VERSION } from "../src/consent.ts";
import { shortHash } from "../src/hash.ts";
import { spoolKey } from "../src/spool.ts";
import {
  baselineDist,
  benchArgs,
  benchDir,
  distCopy,
  esbuildBundle,
  installPeers,
  median,
  npmLayout,
  runtimes,
  timed,
} from "./common.ts";
import { type Emptied, emptyUnreached } from "./unreached.ts";
import { fillAsAnOutage, markDown, sendersDone } from "../scripts/spool_states.ts";

const { values } = parseArgs({
  args: benchArgs(),
  options: { runs: { type: "string", default: "15" } },
});
const RUNS = Number(values.runs);
if (RUNS < 9) {
  console.error(
    `${RUNS} rounds: a difference of medians this few can be off by several ms, even negative; use 15+.`,
  );
}
/** The variants that load the package. */
const PACKAGE_VARIANTS = ["import", "off", "spool", "consent", "outage", "again", "handoff"];
const VARIANTS = ["", ...PACKAGE_VARIANTS, "spawn", "calls", "least"];
/** Spool files an outage leaves: one per run, up to the spool's bound (1,000 events). */
const OUTAGE_FILES = 999;

await installPeers();
const { deno, node, bun, versions } = await runtimes();
const work = await Deno.makeTempDir({ prefix: "nat-telemetry-footprint-" });
// A user's decision, as most users' runs find it: in the consent file (the `consent` variant). The shell's own
// NAT_TELEMETRY_ENABLED or DO_NOT_TRACK would decide before it: the runs do not inherit them.
const consentFile = `${work}/telemetry.toml`;
Deno.writeTextFileSync(
  consentFile,
  `[telemetry]\nconsent = "enabled"\nprompt_version = "${PROMPT_VERSION}"\n`,
  {
    mode: 0o600,
  },
);
for (const name of ["NAT_TELEMETRY_ENABLED", "DO_NOT_TRACK"]) {
  Deno.env.delete(name);
}
const cli = `${benchDir}footprint_cli.mjs`;
const sources = new URL("../mod.ts", import.meta.url).pathname;
const published = new URL("../dist/mod.js", import.meta.url).pathname;
const layout = await npmLayout(`${work}/npm`);
const publishedLayout = `${work}/npm/dist/mod.js`;
const esm = await esbuildBundle(`${work}/mod.esbuild.mjs`, "esm");
/** `dist/` as it was built before its functions were compiled with their chunk (the baseline of that rewrite). */
const lazy = await baselineDist(`${work}/lazy`);
/** Copies of `dist/` to empty of what each runtime's runs never call (`unreached.ts`). */
const unreachedByDeno = await distCopy(`${work}/unreached-deno`);
const unreachedByNode = await distCopy(`${work}/unreached-node`);

/** The modules a file loads when imported, itself included: the static imports, followed. */
function staticClosure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const code = Deno.readTextFileSync(file);
  for (
    const [, , , spec] of code.matchAll(
      /(^|;)\s*(import|export)\b[^;]*?from\s*"(\.{1,2}\/[^"]+)"/gm, // as written, or minified (`;import{a}from"./b.js"`)
    )
  ) {
    staticClosure(new URL(spec, `file://${file}`).pathname, seen);
  }
  return seen;
}

/** As many empty modules as `count`, in `dir`, and the one that imports them all. */
function emptyModules(
  dir: string,
  count: number,
  extension: "js" | "ts",
): string {
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(`${dir}/package.json`, '{ "type": "module" }\n');
  const names = Array.from(
    { length: count - 1 },
    (_, i) => `./m${i}.${extension}`,
  );
  names.forEach((name, i) => Deno.writeTextFileSync(`${dir}/${name}`, `export const m${i} = ${i};\n`));
  const entry = `${dir}/mod.${extension}`;
  Deno.writeTextFileSync(
    entry,
    names.map((name) => `import ${JSON.stringify(name)};\n`).join(""),
  );
  return entry;
}
/** As many empty modules as `entry` loads, in the same layout (JavaScript or TypeScript files). */
function floorFor(entry: string): string {
  const extension = entry.endsWith(".ts") ? "ts" : "js";
  return emptyModules(
    `${work}/floor-${shortHash(entry)}`,
    staticClosure(entry).size,
    extension,
  );
}

/** A Bun executable of the CLI, with the package embedded or without it, compiled to bytecode or not. */
async function executable(
  name: string,
  embedded: boolean,
  bytecode = false,
): Promise<string> {
  const entry = `${work}/${name}.mjs`;
  const embed = embedded
    ? `import * as natTelemetry from ${JSON.stringify(published)};\nglobalThis.natTelemetry = natTelemetry;\n`
    : "";
  await Deno.writeTextFile(
    entry,
    `${embed}await import(${JSON.stringify(cli)});\n`,
  );
  const out = `${work}/${name}`;
  const { success } = await new Deno.Command(bun, {
    args: [
      "build",
      "--compile",
      ...(bytecode ? ["--bytecode", "--format=esm"] : []),
      entry,
      "--outfile",
      out,
    ],
    cwd: work, // bun writes a temporary file in its working directory while it compiles
    stdout: "null",
  })
    .output();
  if (!success) throw new Error("bun build --compile failed");
  return out;
}
/**
 * The variants an executable runs without the package embedded: the baseline, the floors and the least hand-off (an
 * executable evaluates what it embeds before its code runs: the one with the package would pay loading it).
 */
const WITHOUT_PACKAGE = new Set(["", "spawn", "calls", "least"]);
const withPackage = await executable("cli-with", true);
const withoutPackage = await executable("cli-without", false);
const withPackageBytecode = await executable("cli-with-bytecode", true, true);
const withoutPackageBytecode = await executable(
  "cli-without-bytecode",
  false,
  true,
);

/** One shipping form: how to run each variant. */
interface Form {
  label: string;
  run(variant: string): string[];
  module?: string;
  /** Set for every run of the form, the baseline's included. */
  env?: Record<string, string>;
  /**
   * The variable that has the runtime write V8's coverage: set, the form's module is a copy of `dist/` whose
   * functions none of the form's runs calls are emptied before its runs (`unreached.ts`).
   */
  coverage?: "NODE_V8_COVERAGE" | "DENO_COVERAGE_DIR";
}
const forms: Form[] = [
  {
    label: "deno (as published: dist/)",
    run: (v) => [deno, "run", "-A", cli, v],
    module: published,
  },
  {
    label: "deno (as published), a CLI that loads node:process",
    run: (v) => [deno, "run", "-A", cli, v],
    module: published,
    env: { NAT_BENCH_NODE_PROCESS: "1" },
  },
  {
    label: "deno (dist/, what its runs never call emptied)",
    run: (v) => [deno, "run", "-A", cli, v],
    module: unreachedByDeno,
    coverage: "DENO_COVERAGE_DIR",
  },
  {
    label: "deno (dist/ compiled lazily: before the rewrite)",
    run: (v) => [deno, "run", "-A", cli, v],
    module: lazy,
  },
  {
    label: "deno (TypeScript sources, one file per module)",
    run: (v) => [deno, "run", "-A", cli, v],
    module: sources,
  },
  {
    label: "node (as published, JSR's npm layer)",
    run: (v) => [node, cli, v],
    module: publishedLayout,
  },
  {
    label: "node (as published), compile cache on",
    run: (v) => [node, cli, v],
    module: publishedLayout,
    env: { NODE_COMPILE_CACHE: `${work}/node-compile-cache` },
  },
  {
    label: "node (dist/, what its runs never call emptied)",
    run: (v) => [node, cli, v],
    module: unreachedByNode,
    coverage: "NODE_V8_COVERAGE",
  },
  {
    label: "node (dist/ compiled lazily)",
    run: (v) => [node, cli, v],
    module: lazy,
  },
  {
    label: "node (dist/ compiled lazily), compile cache on",
    run: (v) => [node, cli, v],
    module: lazy,
    env: { NODE_COMPILE_CACHE: `${work}/node-compile-cache-lazy` },
  },
  {
    label: "node (one JS file per module)",
    run: (v) => [node, cli, v],
    module: layout,
  },
  { label: "node (esbuild bundle)", run: (v) => [node, cli, v], module: esm },
  {
    label: "bun (as published, JSR's npm layer)",
    run: (v) => [bun, cli, v],
    module: publishedLayout,
  },
  {
    label: "bun build --compile executable",
    run: (v) => [WITHOUT_PACKAGE.has(v) ? withoutPackage : withPackage, v],
  },
  {
    label: "bun build --compile --bytecode executable",
    run: (
      v,
    ) => [
      WITHOUT_PACKAGE.has(v) ? withoutPackageBytecode : withPackageBytecode,
      v,
    ],
  },
];

// Endpoints: one healthy, and one a health file marks as down (so the exit spools and starts no sender).
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  async (request) => {
    await request.arrayBuffer();
    return new Response(null, { status: 200 });
  },
);
const healthy = `http://127.0.0.1:${server.addr.port}/v1.1/events/json`;
const down = `http://127.0.0.1:${server.addr.port}/down/v1.1/events/json`;

/**
 * A spool after a long outage: `down` marked down, and {@link OUTAGE_FILES} one-event files waiting for it (what as
 * many runs leave). Returns the names there, so that the files a run adds can be removed.
 */
function outageSpool(spool: string): Set<string> {
  markDown(spool, down);
  fillAsAnOutage(spool, down, OUTAGE_FILES);
  return new Set(Deno.readDirSync(spool).map(({ name }) => name));
}

/** Removes the spool files runs added since the spool held `names` (the sender's script stays, as it would). */
function restore(spool: string, names: Set<string>): void {
  for (const { name } of Deno.readDirSync(spool)) {
    if (name.startsWith("e-") && !names.has(name)) {
      Deno.removeSync(`${spool}/${name}`);
    }
  }
}

/**
 * Throws unless the senders delivered every hand-off's event: none is left in the spool for the healthy endpoint (a
 * form whose code does less than it should, an emptied one, must not be timed as if it did the same).
 */
function assertDelivered(spool: string): void {
  const left = [...Deno.readDirSync(spool)].filter(({ name }) => name.includes(`-${spoolKey(healthy)}-`));
  if (left.length) {
    throw new Error(
      `${left.length} hand-off events left undelivered in ${spool}`,
    );
  }
}

/** One run's figures: see {@link Samples}. */
type Run = { [key in keyof Samples]: number };

/** A value a run reports on stderr as `name=value`, NaN when it does not. */
const reported = (stderr: string, name: string) => Number(stderr.match(new RegExp(`${name}=(\\d+)`))?.[1] ?? NaN);

/** One run: its figures, from its wall time and what it reports on stderr. */
async function once(cmd: string[], env: Record<string, string>): Promise<Run> {
  const run = await timed(cmd, env, 30_000);
  if (run.code !== 0) {
    throw new Error(`${cmd.join(" ")} exited with ${run.code}: ${run.stderr}`);
  }
  return {
    ms: run.ms,
    cpu: reported(run.stderr, "cpu_us") / 1000,
    mb: reported(run.stderr, "maxrss_kb") / 1024,
    privateMb: reported(run.stderr, "private_kb") / 1024,
    load: reported(run.stderr, "load_us") / 1000,
    work: reported(run.stderr, "work_us") / 1000,
  };
}

const p90 = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(values.length * 0.9) - 1)];
const fmt = (ms: number) => ms.toFixed(1);
/** Memory added, signed (a difference of medians may be below zero); "—" where a run could not tell (not Linux). */
const signed = (mb: number) => {
  if (Number.isNaN(mb)) return "—";
  const size = Math.abs(mb).toFixed(1);
  return `${mb < 0 && size !== "0.0" ? "-" : "+"}${size}`;
};

/**
 * Runs' figures: wall time, CPU time (ms), peak memory and private memory at exit (MB); and in process (ms),
 * loading the package and `trackCommand` (or the spawn alone).
 */
interface Samples {
  ms: number[];
  cpu: number[];
  mb: number[];
  privateMb: number[];
  load: number[];
  work: number[];
}
/** Fresh, empty samples. */
const noSamples = (): Samples => ({
  ms: [],
  cpu: [],
  mb: [],
  privateMb: [],
  load: [],
  work: [],
});
/** Adds one run's figures to samples. */
function add(samples: Samples, run: Run): void {
  for (const key of Object.keys(run) as (keyof Samples)[]) {
    samples[key].push(run[key]);
  }
}
/** Each run's figure over the baseline run of its round. */
const addedTo = (base: Samples, used: Samples, key: keyof Samples) => used[key].map((value, i) => value - base[key][i]);
/**
 * A row of the README's table: the whole run added, median (p90), the phases in process and their floors, memory,
 * and the least any client that hands off could add to the whole run (the `least` variant), where measured.
 */
function summaryRow(
  label: string,
  base: Samples,
  used: Samples,
  inside?: { phases: number; floors: number; least: Samples },
): string {
  const ms = addedTo(base, used, "ms");
  const phases = inside ? `${fmt(inside.phases)} | ${fmt(inside.floors)}` : "— | —";
  const memory = (runs: Samples) =>
    `${signed(median(addedTo(base, runs, "mb")))} | ${signed(median(addedTo(base, runs, "privateMb")))}`;
  const least = inside && addedTo(base, inside.least, "ms");
  return `| ${label} | ${fmt(median(ms))} (${fmt(p90(ms))}) | ${phases} | ${memory(used)} | ${
    least ? `${fmt(median(least))} (${fmt(p90(least))}) | ${memory(inside.least)}` : "— | — | —"
  } |`;
}
/** A row of the main table: `used` against `base`, paired by run (each against the baseline of its round). */
function wholeRow(label: string, base: Samples, used: Samples): string {
  const added = (key: keyof Samples) => addedTo(base, used, key);
  return `| ${label} | ${fmt(median(base.ms))} | ${fmt(median(added("ms")))} | ${fmt(p90(added("ms")))} | ${
    fmt(median(added("cpu")))
  } | ${median(base.mb).toFixed(1)} | ${signed(median(added("mb")))} | ${signed(median(added("privateMb")))} |`;
}

/** Each form with a module emptied of what its runs never call, and what was emptied. */
const emptied: [string, Emptied][] = [];
const rows: string[] = [];
const phaseRows: string[] = [];
/** The README's table: each form's whole run, its phases in process summed, and their floors summed. */
const summaryRows: string[] = [];
for (const form of forms) {
  const spool = `${work}/spool-${rows.length}`;
  markDown(spool, down);
  const outage = `${spool}-outage`;
  const outageFiles = outageSpool(outage);
  const floor = form.module && form.module !== esm ? floorFor(form.module) : undefined;
  const variants: string[] = floor ? [...VARIANTS, "floor"] : [...VARIANTS];
  const samples = new Map<string, Samples>(
    variants.map((variant) => [variant, noSamples()]),
  );
  const env = (variant: string) => ({
    ...form.env,
    ...(variant === "consent"
      ? { NAT_TELEMETRY_CONSENT_FILE: consentFile }
      : { NAT_TELEMETRY_ENABLED: variant === "off" ? "0" : "1" }),
    NAT_TELEMETRY_SPOOL_DIR: variant === "outage" ? outage : spool,
    NAT_TELEMETRY_ENDPOINT: ["spool", "consent", "outage", "again"].includes(variant) ? down : healthy,
    ...(form.module ? { NAT_BENCH_MODULE: form.module } : {}),
    ...(variant === "floor" ? { NAT_BENCH_MODULE: floor! } : {}),
    ...(variant === "least" ? { NAT_BENCH_CHILD: JSON.stringify(form.run("")) } : {}),
  });
  if (form.coverage) {
    // Which functions run: every variant that loads the package, once, the module's copy as it is.
    const reports = `${work}/coverage-${rows.length}`;
    for (const variant of PACKAGE_VARIANTS) {
      await once(form.run(variant), {
        ...env(variant),
        [form.coverage]: reports,
      });
    }
    restore(outage, outageFiles);
    await sendersDone(spool);
    const dir = form.module!.slice(0, form.module!.lastIndexOf("/"));
    const chunks = [...Deno.readDirSync(dir)].filter(({ name }) => name.endsWith(".js"));
    emptied.push([
      form.label,
      emptyUnreached(reports, chunks.map(({ name }) => `${dir}/${name}`)),
    ]);
  }
  // Warm-up: caches, the spool directory, the sender's script in it.
  for (const variant of variants) await once(form.run(variant), env(variant));
  restore(outage, outageFiles);
  await sendersDone(spool);
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, in an order that rotates, so that no variant always follows another.
    for (let k = 0; k < variants.length; k++) {
      const variant = variants[(i + k) % variants.length];
      add(samples.get(variant)!, await once(form.run(variant), env(variant)));
      if (variant === "handoff") await sendersDone(spool);
      // Its child is a baseline run (15-40 ms here), which takes no lock: let it end before the next run.
      if (variant === "least") {
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      if (variant === "outage") restore(outage, outageFiles);
    }
  }
  assertDelivered(spool);
  const at = (key: keyof Samples, variant: string) => median(samples.get(variant)![key]);
  rows.push(wholeRow(form.label, samples.get("")!, samples.get("handoff")!));
  // In process, each phase by difference between variants: far less noisy than whole processes' wall times.
  const phases = [
    at("load", "import"),
    at("work", "off"),
    at("work", "spool") - at("work", "off"),
    at("work", "consent") - at("work", "off"),
    at("work", "outage") - at("work", "off"),
    at("work", "handoff") - at("work", "spool"),
  ];
  // The second command of a process: time, and the peak memory it adds to the first's.
  const again = `${fmt(at("work", "again"))}, ${signed(at("mb", "again") - at("mb", "spool"))}`;
  const memory = [
    at("mb", "import") - at("mb", ""),
    at("mb", "handoff") - at("mb", "import"),
  ];
  const loadingFloor = floor
    ? `${fmt(at("load", "floor"))} (${staticClosure(form.module!).size}), ${signed(at("mb", "floor") - at("mb", ""))}`
    : "—";
  const spawnFloor = `${fmt(at("work", "spawn"))}, ${signed(at("mb", "spawn") - at("mb", ""))}`;
  const callsFloor = `${fmt(at("work", "calls"))}, ${signed(at("mb", "calls") - at("mb", ""))}`;
  phaseRows.push(
    `| ${form.label} | ${phases.map(fmt).join(" | ")} | ${again} | ${loadingFloor} | ${callsFloor} | ${spawnFloor} | ${
      memory.map(signed).join(" | ")
    } |`,
  );
  // In process: load, setup, event and spool, spawn; the floor: loading (where a file is loaded), first calls, spawn.
  const inProcess = phases[0] + phases[1] + phases[2] + phases[5];
  const floors = (floor ? at("load", "floor") : 0) + at("work", "calls") +
    at("work", "spawn");
  const least = samples.get("least")!;
  summaryRows.push(
    summaryRow(form.label, samples.get("")!, samples.get("handoff")!, {
      phases: inProcess,
      floors,
      least,
    }),
  );
  console.error(rows.at(-1));
}

// Peers, under Node.js, against the same healthy endpoint.
for (const peer of ["posthog", "segment"]) {
  const base = noSamples();
  const used = noSamples();
  await once([node, cli, peer], { NAT_TELEMETRY_ENDPOINT: healthy });
  for (let i = 0; i < RUNS; i++) {
    for (
      const [variant, into] of (i % 2 ? [["", base], [peer, used]] : [[peer, used], ["", base]]) as [string, Samples][]
    ) {
      add(
        into,
        await once([node, cli, variant], { NAT_TELEMETRY_ENDPOINT: healthy }),
      );
    }
  }
  const label = peer === "posthog" ? "posthog-node 5.70.0 (node)" : "@segment/analytics-node 3.1.0 (node)";
  rows.push(wholeRow(label, base, used));
  summaryRows.push(summaryRow(label, base, used));
  console.error(rows.at(-1));
}

console.log(`\n### Footprint: one CLI run with one tracked command\n`);
console.log(
  `${versions}. ${RUNS} rounds, each running every variant of the same CLI once, interleaved; "added" is each ` +
    `whole run (load, trackCommand, exit: the hand-off) minus the baseline run of its round. CPU is the time ` +
    `the process's threads ran (schedstat): it does not count waiting (for a process to start, for the disk), ` +
    `and varies less on a busy machine than wall time. Peak RSS is the process's own (VmHWM); private memory is ` +
    `its anonymous pages at exit (RssAnon), what only it holds: the rest of RSS is files mapped from disk, ` +
    `mostly the runtime's executable, whose pages each feature's first use brings in, clean pages the kernel ` +
    `can drop and read again. Peers under ` +
    `Node.js, against the same loopback endpoint.\n`,
);
console.log(
  "| form | baseline run (ms) | whole run added, median (ms) | p90 (ms) | CPU added (ms) | baseline peak RSS (MB) " +
    "| peak RSS added (MB) | private memory added (MB) |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const row of rows) console.log(row);
console.log(
  `\n### Where it goes: each phase's cost, timed in process, by difference of medians\n`,
);
console.log(
  "Timed inside the process (performance.now), so that process start and exit, and their noise, are left out. " +
    "load: importing the package (an executable has it loaded before its code runs); setup: `trackCommand` with " +
    "telemetry off (options checked, handler made, consent decided); event and spool: the event recorded, the " +
    "exit's decision and spool write (endpoint marked down: no sender); the same, decided by a consent file (read " +
    "and parsed, as a user who answered the question runs; the others are decided by NAT_TELEMETRY_ENABLED); " +
    "the same after an outage: with " +
    `${OUTAGE_FILES} files waiting in the spool (a file per run, up to its bound); spawn: starting the sender; ` +
    "a second command: event and spool again in the same process, after a first (the code has run once, the " +
    "runtime's APIs have been called), and the peak memory it adds: what is left of a run's cost once what " +
    "happens once per process is paid. " +
    "Floors, what " +
    "any package pays for the same, and the peak memory they add: loading as many empty modules as the package " +
    "loads (how many in brackets), laid out as it is; the first call of each runtime API that setup, event and " +
    "spool make (files, the environment, listeners, URL), made without the package: the runtime's own price " +
    "for them in a fresh process, against setup plus event and spool; starting a process (`/bin/true`, in a " +
    "session of its own, as the hand-off starts its sender) and nothing else. Memory: what loading adds, and what " +
    "the rest of the run adds.\n",
);
console.log(
  "| form | load (ms) | setup (ms) | event and spool (ms) | the same, decided by a consent file (ms) | " +
    "the same, after an outage (ms) | spawn (ms) | a second command (ms, MB) | " +
    "floor: loading (ms, MB) | floor: first calls (ms, MB) | " +
    "floor: spawn (ms, MB) | RSS: load (MB) | RSS: the rest (MB) |",
);
console.log(
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
);
for (const row of phaseRows) console.log(row);
for (const [label, { functions, listed, chars, total }] of emptied) {
  console.log(
    `\n${label}: ${functions} functions emptied of the ${listed} its runs' coverage lists, ` +
      `${(chars / 1000).toFixed(1)} of ${(total / 1000).toFixed(1)} KB.`,
  );
}
console.log(`\n### In short (the README's table)\n`);
console.log(
  "Whole run added: median (p90), from the first table. In process: load, setup, event and spool, and spawn, from " +
    "the second, summed; its floor: the floors of the same phases summed (loading only where the package is a file " +
    "of its own). The least a hand-off can add: a run of the same CLI that makes the first calls a run that spools " +
    "makes (a file written, renamed and removed in the spool directory) and starts, in a session of its own, what a " +
    "sender is: a process of the same runtime or executable (the baseline CLI), and nothing else; whole run added " +
    "over the baseline, median (p90), and its peak RSS and private memory added. No code of any client's is in " +
    "it: what any client that hands its events off to a process of its own pays in that form, whatever its code.\n",
);
console.log(
  "| form | whole run added, median (p90) (ms) | in process (ms) | its floor (ms) | peak RSS added (MB) | " +
    "private memory added (MB) | the least a hand-off can add, median (p90) (ms) | its peak RSS added (MB) | " +
    "its private memory added (MB) |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const row of summaryRows) console.log(row);

await server.shutdown();
await Deno.remove(work, { recursive: true });
