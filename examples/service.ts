/**
 * A long-lived program (a watcher, a language server, a dev server) that
 * records events as it goes: the handler flushes every `flushIntervalSeconds`
 * and when `maxQueueSize` events are waiting, keeps at most
 * `maxBufferedEvents` in memory while the endpoint is down, and makes the
 * final flush when the program ends, in process (`handOff: false`: a program
 * that ran for minutes does not need its exit to be instant; what the budget
 * cannot deliver is spooled for a later run). It prints its counters, so the
 * final flush shows in `sent`. Runs unmodified under Deno, Node and Bun:
 *
 *   NAT_TELEMETRY_ENABLED=1 NAT_TELEMETRY_ENDPOINT=stdout deno run -A examples/service.ts 3
 *   NAT_TELEMETRY_ENABLED=1 NAT_TELEMETRY_ENDPOINT=http://127.0.0.1:PORT/... node examples/service.ts 3
 *
 * @module
 */
import process from "node:process";
import { CliCommandEvent, NATTelemetryHandler } from "../mod.ts";

const ticks = Number(process.argv[2] ?? 3);
const telemetry = new NATTelemetryHandler({ flushIntervalSeconds: 1, captureInterrupts: true, handOff: false });
telemetry.start(); // the timer never keeps the process alive by itself

for (let tick = 1; tick <= ticks; tick++) {
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 300)); // ... one unit of the service's work ...
  telemetry.enqueue(
    new CliCommandEvent({ command: "rebuild", taskStatus: "completed", durationMs: performance.now() - started }),
  );
}

await telemetry.stop(); // the final flush, in process, within the exit budget
console.log(JSON.stringify(telemetry.stats())); // e.g. {"enqueued":3,...,"sent":3,...}: nothing left for a sender
