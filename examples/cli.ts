/**
 * A small CLI that records how each of its commands ended, the way a CLI
 * author would wire in @nat/telemetry. Runs unmodified under Deno, Node and Bun:
 *
 *   NAT_TELEMETRY_ENABLED=1 NAT_TELEMETRY_ENDPOINT=stdout deno run -A examples/cli.ts greet world
 *   NAT_TELEMETRY_ENABLED=1 NAT_TELEMETRY_ENDPOINT=stdout node examples/cli.ts fail
 *   NAT_TELEMETRY_ENABLED=1 NAT_TELEMETRY_ENDPOINT=stdout bun examples/cli.ts greet
 *
 * @module
 */
import process from "node:process";
import { CliCommandEvent, NATTelemetryHandler, type TaskStatus } from "../mod.ts";

const commands: Record<string, (args: string[]) => number> = {
  greet: ([name = "there"]) => {
    console.log(`Hello, ${name}!`);
    return 0;
  },
  fail: () => {
    throw new RangeError("this command always fails");
  },
};

const [command = "greet", ...args] = process.argv.slice(2);
// The session id ties one run's events together without identifying anyone.
await using telemetry = new NATTelemetryHandler({ sessionId: crypto.randomUUID().replaceAll("-", "") });
const started = performance.now();
let taskStatus: TaskStatus = "success";
let exitCode = 0;
let errorClass = "undefined";
try {
  const run = commands[command];
  if (!run) throw new TypeError(`unknown command: ${command}`);
  exitCode = run(args);
  if (exitCode !== 0) taskStatus = "failure";
} catch (error) {
  taskStatus = "failure";
  exitCode = 1;
  // Only built-in error classes are reported, so a project's own class names never leak.
  errorClass = error instanceof RangeError || error instanceof TypeError ? error.constructor.name : "Error";
  console.error(`error: ${(error as Error).message}`);
}
telemetry.enqueue(
  new CliCommandEvent({
    command: command in commands ? command : "undefined",
    taskStatus,
    durationMs: performance.now() - started,
    exitCode,
    errorClass,
  }),
);
process.exitCode = exitCode;
// Leaving the module's scope ends `await using`: the final flush happens here, within the exit budget.
