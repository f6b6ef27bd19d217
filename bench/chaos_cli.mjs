/**
 * The CLI the chaos benchmark (`chaos.ts`) runs thousands of times, in plain
 * JavaScript as a CLI ships: it records one event whose `id` parameter is
 * unique to the run (the first argument), in a session of its own, says so
 * on stdout (`recorded <id>`), does a little work (the second argument, in
 * milliseconds, so that a kill can land before, during or after its exit),
 * ends its handler as `trackCommand` does (`stop()`: the exit hand-off, unless
 * the exit strategy decides otherwise), and prints the handler's counters
 * (`stats <json>`). With `NAT_TELEMETRY_DEBUG=1` the trail on stderr says how
 * the exit went.
 *
 * The package comes from NAT_BENCH_MODULE: `mod.ts` under Deno, a JavaScript
 * build of it under Node.js and Bun; handler options, if any, from
 * NAT_CHAOS_OPTIONS (JSON).
 *
 * @module
 */
import process from "node:process";

const { NATTelemetryHandler, TelemetryEvent } = await import(
  process.env.NAT_BENCH_MODULE
);

/** One run of the chaos benchmark, told apart by its id. */
class ChaosRunEvent extends TelemetryEvent {
  constructor(id) {
    super("nat_chaos_run");
    this.id = id;
  }

  parameters() {
    return { id: this.id };
  }
}

const id = process.argv[2] ?? "unnamed";
const workMs = Number(process.argv[3] ?? 0);

/** Handler options the benchmark sets (`--keep-all`: bounds raised so that nothing is dropped by design). */
const options = JSON.parse(process.env.NAT_CHAOS_OPTIONS ?? "{}");
// A session of its own, as `trackCommand` gives each run: a run's events go in requests of their own.
const handler = new NATTelemetryHandler({
  ...options,
  sessionId: crypto.randomUUID().replaceAll("-", ""),
});
handler.enqueue(new ChaosRunEvent(id));
process.stdout.write(`recorded ${id}\n`);
if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
await handler.stop();
process.stdout.write(`stats ${JSON.stringify(handler.stats())}\n`);
