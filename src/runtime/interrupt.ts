/**
 * Ends the program as Ctrl-C would have, for a Ctrl-C read as a keystroke
 * (a terminal in raw mode turns it into a byte instead of a signal).
 *
 * @module
 */
import { SIGNAL_EXIT_STATUS } from "./host.ts";
import { runtimeInfo } from "./info.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/**
 * Sends SIGINT to this process, as the terminal would have for Ctrl-C: with
 * no SIGINT listener, the process dies of the signal (the shell reports 130);
 * a program that listens for SIGINT gets it, and decides. Where a process
 * cannot signal itself without being asked (Deno without `--allow-run`, whose
 * permission is queried first, never prompted for) or there are no signals
 * (Windows), it exits with 130, the status a shell reports for Ctrl-C.
 * Nothing happens without a runtime.
 *
 * @returns Only when the program listens for SIGINT (or there is no runtime): the program decides what follows.
 * @example
 * ```ts ignore
 * import { interruptSelf } from "./interrupt.ts";
 * interruptSelf(); // the user pressed Ctrl-C at a raw-mode prompt
 * ```
 */
export function interruptSelf(): void {
  const { name, os } = runtimeInfo();
  const status = SIGNAL_EXIT_STATUS.SIGINT;
  if (name === "deno") {
    const deno = g.Deno;
    let granted = false;
    try {
      granted = deno.permissions.querySync?.({ name: "run" }).state === "granted";
    } catch {
      granted = false;
    }
    if (os === "win32" || !granted) deno.exit(status);
    try {
      deno.kill(deno.pid, "SIGINT");
    } catch {
      deno.exit(status);
    }
  } else if (name === "node" || name === "bun") {
    const proc = g.process;
    if (os === "win32") proc.exit(status);
    try {
      proc.kill(proc.pid, "SIGINT");
    } catch {
      proc.exit(status);
    }
  }
}
