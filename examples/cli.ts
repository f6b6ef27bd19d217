/**
 * A small CLI built on `trackCommand`, the way a CLI author would wire in
 * @nat/telemetry. Runs unmodified under Deno, Node and Bun:
 *
 *   deno run -A examples/cli.ts greet world
 *   node examples/cli.ts fail
 *   bun examples/cli.ts crash
 *
 * Commands: `greet [name]`, `fail` (exit code 2), `crash` (throws a built-in
 * RangeError), `oops` (throws the program's own error class, reported only as
 * "Error"), `wait` (prints "ready" and waits, for Ctrl-C), and
 * `telemetry status|enable|disable`: the CLI's users see and change their
 * decision through the CLI itself (they do not have `nat-telemetry`), with
 * one call to `telemetryCommand` from `@nat/telemetry/cli`.
 *
 * @module
 */
import process from "node:process";
import { trackCommand } from "../mod.ts";

/** An error class of this program: its name is never reported. */
class ProjectSecretError extends Error {}

const commands: Record<string, (args: string[]) => number | Promise<number>> = {
  greet: ([name = "there"]) => {
    console.log(`Hello, ${name}!`);
    return 0;
  },
  fail: () => 2,
  crash: () => {
    throw new RangeError("this command always crashes");
  },
  oops: () => {
    throw new ProjectSecretError("an error of the program's own");
  },
  wait: () => {
    console.log("ready");
    return new Promise((resolve) => setTimeout(() => resolve(0), 60_000));
  },
};

const [name = "greet", ...args] = process.argv.slice(2);
const run = commands[name];
if (name === "telemetry") {
  // `example-cli telemetry status|enable|disable`, loaded only when used. Run outside trackCommand: a user who
  // opts out is not asked the consent question first, and managing telemetry is never itself recorded.
  const { telemetryCommand } = await import("../src/cli.ts"); // "@nat/telemetry/cli" once installed
  process.exitCode = telemetryCommand(args, { name: "example-cli telemetry" });
} else if (!run) {
  console.error(`unknown command: ${name}`);
  process.exitCode = 2;
} else {
  try {
    // `command` names a fixed command, and `subcommand` is reported only if registered (none is here): the
    // user's text (`greet Ada`) never leaks.
    const options = {
      command: name,
      subcommand: args[0],
      subcommands: [],
      optOutCommand: "example-cli telemetry disable",
    };
    process.exitCode = await trackCommand(options, () => run(args));
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
