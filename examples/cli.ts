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
 * "Error"), `wait` (prints "ready" and waits, for Ctrl-C), `telemetry on|off`
 * (records the user's decision; the opt-out itself is not reported).
 *
 * @module
 */
import process from "node:process";
import { recordConsent, trackCommand } from "../mod.ts";

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
  telemetry: ([choice]) => {
    const saved = recordConsent(choice === "on" ? "enabled" : "disabled");
    console.log(saved ? `telemetry ${choice === "on" ? "on" : "off"}` : "could not save the choice");
    return saved ? 0 : 1;
  },
};

const [name = "greet", ...args] = process.argv.slice(2);
const run = commands[name];
if (!run) {
  console.error(`unknown command: ${name}`);
  process.exitCode = 2;
} else {
  try {
    // `command` names a fixed command, and `subcommand` is reported only if registered: user text never leaks.
    process.exitCode = await trackCommand(
      { command: name, subcommand: args[0], subcommands: ["on", "off"] },
      () => run(args),
    );
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
