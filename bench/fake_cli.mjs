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
import { cli, loadPackage, recordWithPeer, reportPeakMemory } from "./cli_common.mjs";

reportPeakMemory();

/** The moment the CLI's own work is done: what follows is the exit. */
const mainDone = () =>
  cli.writeStderr(
    `main_done_ms=${performance.timeOrigin + performance.now()}\n`,
  );

const client = cli.args()[0];
const endpoint = cli.env("NAT_TELEMETRY_ENDPOINT") ?? "";

if (client === "telemetry") {
  const { CliCommandEvent, NATTelemetryHandler } = await loadPackage(
    cli.env("NAT_BENCH_MODULE") ?? "../mod.ts",
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
} else if (client === "posthog" || client === "segment") {
  await recordWithPeer(client, endpoint, mainDone);
} else {
  mainDone();
}
