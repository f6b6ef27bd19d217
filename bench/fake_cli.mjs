/**
 * The CLI the exit-latency benchmark times, in plain JavaScript as a CLI ships:
 * with the argument `telemetry`, it records one command with @nat/telemetry
 * the way the README shows (the module path comes from NAT_BENCH_MODULE);
 * without it, it does not even load the library: that is the baseline. At
 * exit it reports its peak memory on stderr.
 *
 * @module
 */
import process from "node:process";

process.on("exit", () => process.stderr.write(`maxrss_kb=${process.resourceUsage().maxRSS}\n`));

if (process.argv[2] === "telemetry") {
  const { CliCommandEvent, NATTelemetryHandler } = await import(process.env.NAT_BENCH_MODULE ?? "../mod.ts");
  await using telemetry = new NATTelemetryHandler();
  telemetry.enqueue(new CliCommandEvent({ command: "bench", taskStatus: "success", durationMs: 0, exitCode: 0 }));
}
