/**
 * `deno task build:run-path`: lists in `run_path.json` the top-level functions of `dist/`'s chunks that a CLI's
 * run calls, from V8's coverage of such runs under Node.js and Deno: `trackCommand` decided by a consent file and
 * by the environment, with the endpoint marked down after a long outage (the spool alone, full of earlier runs'
 * events), with telemetry off, and a handler with one event, disposed. A first hand-off, not covered, has written the sender's script into the spool, as a version's
 * first run does once: the later runs, a user's, find it there.
 * `build_dist.ts` compiles these with their chunk and leaves the others to their first call. Run it again when the
 * build says the list names a function that is gone; a function a run now calls and the list misses only costs
 * that run its compiling on first call.
 *
 * @module
 */
import { ensureDevDependencies } from "./dev_deps.ts";
import { calledByRange } from "./coverage.ts";
import { topLevelFunctions } from "./eager_compile.ts";
import { PROMPT_VERSION } from "../src/consent.ts";
import { DEFAULT_SPOOL_LIMITS } from "../src/spool.ts";
import { fillAsAnOutage, markDown, sendersDone } from "./spool_states.ts";

const root = `${Deno.realPathSync(decodeURIComponent(new URL("..", import.meta.url).pathname))}/`;
const OUT = `${root}scripts/run_path.json`;

/** The CLI each run is: one command through `trackCommand`, or a handler given one event and disposed. */
const CLI = `const { trackCommand, NATTelemetryHandler, CliCommandEvent } = await import("./bundled/mod.js");
if ((globalThis.Deno?.args ?? process.argv.slice(2))[0] === "handler") {
  const handler = new NATTelemetryHandler();
  handler.enqueue(new CliCommandEvent({ command: "run", taskStatus: "success", durationMs: 1, exitCode: 0 }));
  await handler[Symbol.asyncDispose]();
} else {
  await trackCommand({ command: "run" }, () => 0);
}
`;

/** The runs covered, after a first hand-off (not covered): how the CLI is started, and what its environment says. */
const RUNS: { variant?: "handler"; env: "consent" | "enabled" | "down" | "off" }[] = [
  { env: "consent" },
  { env: "enabled" },
  { env: "down" },
  { env: "off" },
  { variant: "handler", env: "consent" },
];

await ensureDevDependencies();
const work = Deno.makeTempDirSync({ prefix: "nat-run-path-" });
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
  await request.arrayBuffer();
  return new Response(null, { status: 200 });
});
try {
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}scripts/build_dist.ts`, `--bundled-into=${work}/bundled`],
  }).output();
  if (!built.success) throw new Error(`build_dist.ts --bundled-into failed: ${new TextDecoder().decode(built.stderr)}`);
  Deno.writeTextFileSync(`${work}/bundled/package.json`, '{ "type": "module" }\n');
  Deno.writeTextFileSync(`${work}/cli.mjs`, CLI);
  const healthy = `http://127.0.0.1:${server.addr.port}/v1.1/events/json`;
  const down = `http://127.0.0.1:${server.addr.port}/down/v1.1/events/json`;
  Deno.writeTextFileSync(
    `${work}/telemetry.toml`,
    `[telemetry]\nconsent = "enabled"\nprompt_version = "${PROMPT_VERSION}"\n`,
  );
  const coverage = `${work}/coverage`;
  const runtimes = [
    { command: ["npx", "-y", "node@24.9.0"], variable: "NODE_V8_COVERAGE" },
    { command: [Deno.execPath(), "run", "-A"], variable: "DENO_COVERAGE_DIR" },
  ];
  for (const { command: [program, ...args], variable } of runtimes) {
    const spool = Deno.makeTempDirSync({ dir: work, prefix: "spool-" });
    markDown(spool, down);
    for (const [order, { variant, env }] of [RUNS[0], ...RUNS].entries()) {
      // As many files as the spool holds: the run lists them all and makes room for its own.
      if (env === "down") fillAsAnOutage(spool, down, DEFAULT_SPOOL_LIMITS.maxEvents);
      const run = await new Deno.Command(program, {
        args: [...args, `${work}/cli.mjs`, ...(variant ? [variant] : [])],
        cwd: work,
        clearEnv: true,
        env: {
          PATH: Deno.env.get("PATH") ?? "",
          HOME: work,
          ...(order > 0 ? { [variable]: coverage } : {}),
          NAT_TELEMETRY_SPOOL_DIR: spool,
          NAT_TELEMETRY_ENDPOINT: env === "down" ? down : healthy,
          ...(env === "consent"
            ? { NAT_TELEMETRY_CONSENT_FILE: `${work}/telemetry.toml` }
            : { NAT_TELEMETRY_ENABLED: env === "off" ? "0" : "1" }),
        },
      }).output();
      if (!run.success) {
        throw new Error(`${program} ${variant ?? ""} (${env}): ${new TextDecoder().decode(run.stderr)}`);
      }
      await sendersDone(spool); // the next run then finds no sender at work, as most runs do: the list is the same each time
    }
  }
  const functions: string[] = [];
  for (const { name } of Deno.readDirSync(`${work}/bundled`)) {
    if (!name.endsWith(".js")) continue;
    const path = `${work}/bundled/${name}`;
    const called = new Set(
      [...calledByRange(coverage, `file://${path}`)].flatMap(([range, ran]) => ran ? [range.split(":")[1]] : []),
    );
    for (const { module, node } of topLevelFunctions(Deno.readTextFileSync(path)).declarations) {
      if (called.has(String(node.end))) functions.push(`${module}:${node.id.name}`);
    }
  }
  Deno.writeTextFileSync(
    OUT,
    `${
      JSON.stringify(
        {
          about: "Generated by `deno task build:run-path` (scripts/run_path.ts): do not edit.",
          functions: functions.sort(),
        },
        null,
        2,
      )
    }\n`,
  );
  console.log(`Wrote scripts/run_path.json: ${functions.length} functions a CLI's run calls.`);
} finally {
  await server.shutdown();
  Deno.removeSync(work, { recursive: true });
}
