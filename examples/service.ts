/**
 * A long-lived program (a watcher, a language server, a dev server) that
 * records events as it goes: the handler flushes every `flushIntervalSeconds`
 * and when `maxQueueSize` events are waiting, keeps at most
 * `maxBufferedEvents` in memory while the endpoint is down, and makes the
 * final flush (or spools) when the program ends. Runs unmodified under Deno,
 * Node and Bun:
 *
 *   NAT_TELEMETRY_ENABLED=1 NAT_TELEMETRY_ENDPOINT=stdout deno run -A examples/service.ts 3
 *
 * @module
 */
import process from "node:process";
import { CliCommandEvent, NATTelemetryHandler } from "../mod.ts";

const ticks = Number(process.argv[2] ?? 3);
const telemetry = new NATTelemetryHandler({ flushIntervalSeconds: 1, captureInterrupts: true });
telemetry.start(); // the timer never keeps the process alive by itself

for (let tick = 1; tick <= ticks; tick++) {
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 300)); // ... one unit of the service's work ...
  telemetry.enqueue(
    new CliCommandEvent({ command: "rebuild", taskStatus: "completed", durationMs: performance.now() - started }),
  );
}

await telemetry.stop();
console.log(JSON.stringify(telemetry.stats()));
