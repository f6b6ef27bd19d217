/**
 * The CLI the exit-latency benchmark times, in plain JavaScript as a CLI ships.
 * The first argument picks what records the one event: `telemetry`
 * (@nat/telemetry, from NAT_BENCH_MODULE, as the README shows), `posthog`
 * (posthog-node) or `segment` (@segment/analytics-node), each used the way its
 * documentation shows for a short-lived process. Without an argument it loads
 * nothing: that is the baseline. When its work is done, just before the
 * client's final flush (or shutdown), it prints `main_done_ms=<epoch ms>` on
 * stderr, so the benchmark can tell what the exit itself adds; at exit it
 * reports its peak memory on stderr.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";

// The peak resident memory of this program alone. On Linux, getrusage's maxRSS survives exec, so a child reports
// its parent's size if that is larger: read the address space's own high-water mark (VmHWM) instead.
process.on("exit", () => {
  let kb = process.resourceUsage().maxRSS;
  try {
    kb = Number(
      /VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ??
        kb,
    );
  } catch {
    // Not Linux: maxRSS it is.
  }
  process.stderr.write(`maxrss_kb=${kb}\n`);
});

/** The moment the CLI's own work is done: what follows is the exit. */
const mainDone = () =>
  process.stderr.write(
    `main_done_ms=${performance.timeOrigin + performance.now()}\n`,
  );

const client = process.argv[2];
const endpoint = process.env.NAT_TELEMETRY_ENDPOINT ?? "";

if (client === "telemetry") {
  const { CliCommandEvent, NATTelemetryHandler } = await import(
    process.env.NAT_BENCH_MODULE ?? "../mod.ts"
  );
  await using telemetry = new NATTelemetryHandler();
  telemetry.enqueue(
    new CliCommandEvent({
      command: "bench",
      taskStatus: "success",
      durationMs: 0,
      exitCode: 0,
    }),
  );
  mainDone();
} else if (client === "posthog") {
  const { PostHog } = await import("posthog-node");
  const posthog = new PostHog("phc_bench", {
    host: new URL(endpoint).origin,
    flushAt: 1,
    flushInterval: 0,
  });
  posthog.capture({
    distinctId: "bench",
    event: "cli_command",
    properties: { command: "bench" },
  });
  mainDone();
  await posthog.shutdown();
} else if (client === "segment") {
  const { Analytics } = await import("@segment/analytics-node");
  const analytics = new Analytics({
    writeKey: "bench",
    host: new URL(endpoint).origin,
    maxEventsInBatch: 1,
  });
  analytics.track({
    userId: "bench",
    event: "cli_command",
    properties: { command: "bench" },
  });
  mainDone();
  await analytics.closeAndFlush();
} else {
  mainDone();
}
