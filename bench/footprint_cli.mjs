/**
 * The CLI the footprint benchmark times, in plain JavaScript as a CLI ships.
 * Its work is nothing (the cost of telemetry is the whole difference); the
 * first argument says how much of the telemetry client it uses, so that the
 * benchmark can tell each phase's cost by difference:
 *
 * - none: the baseline, no client at all;
 * - `import`: loads @nat/telemetry (from NAT_BENCH_MODULE, or embedded by the benchmark's executable entry);
 * - `off`: also runs its command through `trackCommand` with telemetry off (`NAT_TELEMETRY_ENABLED=0`, set by
 *   the benchmark): the options checked, the handler made, the consent decided; nothing recorded;
 * - `spool`: telemetry on, the endpoint marked down: the event recorded, and the exit writes the spool and
 *   starts no sender;
 * - `consent`: as `spool`, telemetry decided by the consent file the benchmark names (NAT_TELEMETRY_CONSENT_FILE);
 * - `outage`: as `spool`, in a spool where a long outage left a file per run, up to the spool's bound;
 * - `again`: as `spool`, then a second command recorded the same way in the same process, and only the second
 *   timed: what a run costs once the code has run once and the runtime's APIs have been called (a long-lived
 *   host's every command);
 * - `handoff`: the endpoint healthy: the exit writes the spool and starts a sender (a user's run);
 * - `floor`: loads NAT_BENCH_MODULE, as many empty modules as the package loads (the loader's own cost);
 * - `spawn`: starts a process (`/bin/true`) in a session of its own, as the hand-off starts its sender, and nothing else;
 * - `calls`: makes the first call of each runtime API a run that spools makes, without the package (`firstCalls`);
 * - `least`: both of the last two, the spool write included, and the process it starts is this CLI's baseline run
 *   in the same runtime or executable (NAT_BENCH_CHILD, a JSON array), as a sender is: the least a client that
 *   hands its events off to a process of its own can cost, whatever its code;
 * - `posthog`, `segment`: one event with posthog-node or @segment/analytics-node, as their docs show.
 *
 * At exit it reports on stderr its own peak memory (`maxrss_kb=`), CPU time (`cpu_us=`), and the time it spent
 * in process loading the package (`load_us=`) and in `trackCommand`, the spawn or the first calls alone (`work_us=`).
 *
 * @module
 */
import { cli, firstCalls, loadPackage, recordWithPeer, reportPeakMemory, startProcess } from "./cli_common.mjs";

// A CLI that has loaded Deno's Node.js layer itself (NAT_BENCH_NODE_PROCESS): what a client loads of it is then paid.
if (globalThis.Deno && cli.env("NAT_BENCH_NODE_PROCESS")) await import("node:process");
reportPeakMemory();

const variant = cli.args()[0] ?? "";
const endpoint = cli.env("NAT_TELEMETRY_ENDPOINT") ?? "";
/** The package: embedded by an executable's entry, or loaded from NAT_BENCH_MODULE. */
const load = async () => globalThis.natTelemetry ?? await loadPackage(cli.env("NAT_BENCH_MODULE"));

// What this run spent, in process: loading the package, and `trackCommand` (or the spawn alone), hand-off included.
const started = performance.now();
let loaded = started;
let worked = started;
cli.onExit(() => {
  const us = (ms) => Math.round(ms * 1000);
  cli.writeStderr(`load_us=${us(loaded - started)}\nwork_us=${us(worked - loaded)}\n`);
});

if (["import", "off", "spool", "consent", "outage", "handoff", "again"].includes(variant)) {
  const { trackCommand } = await load();
  if (variant === "again") await trackCommand({ command: "bench" }, () => 0); // the first, not timed
  loaded = worked = performance.now();
  if (variant !== "import") {
    cli.setExitCode(await trackCommand({ command: "bench" }, () => 0));
    worked = performance.now();
  }
} else if (variant === "floor") {
  await load();
  loaded = worked = performance.now();
} else if (variant === "spawn") {
  startProcess("/bin/true");
  worked = performance.now();
} else if (variant === "calls") {
  firstCalls(cli.env("NAT_TELEMETRY_SPOOL_DIR"));
  worked = performance.now();
} else if (variant === "least") {
  firstCalls(cli.env("NAT_TELEMETRY_SPOOL_DIR"));
  const [executable, ...args] = JSON.parse(cli.env("NAT_BENCH_CHILD"));
  startProcess(executable, args);
  worked = performance.now();
} else if (variant === "posthog" || variant === "segment") {
  await recordWithPeer(variant, endpoint);
}
