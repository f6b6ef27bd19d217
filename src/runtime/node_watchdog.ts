/**
 * What Node.js needs for the package's deadlines to end where a program's timers are fake
 * (`@sinonjs/fake-timers`' default `install()`, before or after the package loads):
 *
 * - a clock they do not replace: Node.js's `AbortSignal.timeout` runs on the functions of `node:timers`, which those
 *   fake timers replace too, where it is first used after them; `Atomics.waitAsync`'s timeout is V8's own;
 * - a hold on the process while the program awaits a deadline (the exit's budget): a fake `process.nextTick` stalls
 *   Node.js's HTTP client, so that no socket holds the process either, and a fake timer never does. Without it, Node.js
 *   ended the program mid-await with 13 ("unsettled top-level await") where its command had ended with its own
 *   status. Nothing is made while the program's timers hold the process: only where its event loop empties during a
 *   hold (`beforeExit`) is a message port referenced, until the last hold is released.
 *
 * Deno's and Bun's own `AbortSignal.timeout` is such a clock, and holds the process while listened to.
 *
 * @module
 */

/** What a hold needs of `process`. */
export interface BeforeExitEmitter {
  on(event: "beforeExit", listener: () => void): unknown;
  removeListener(event: "beforeExit", listener: () => void): unknown;
}

/** A message port's hold on the event loop (Node.js). */
interface Referenced {
  ref(): void;
  unref(): void;
}

/**
 * A way to hold a Node.js process open: each call holds it until the function it returns is called (once is
 * enough; a second call does nothing).
 *
 * @param proc The process.
 * @returns The host's `holdOpen`.
 * @example
 * ```ts
 * import process from "node:process";
 * import { loopHold } from "./node_watchdog.ts";
 * const holdOpen = loopHold(process);
 * const release = holdOpen();
 * release(); // the deadline ended, or was cancelled
 * ```
 */
export function loopHold(proc: BeforeExitEmitter): () => () => void {
  let holds = 0;
  let port: Referenced | undefined;
  const onEmpty = () => {
    if (holds === 0) return;
    try {
      port ??= new MessageChannel().port1 as unknown as Referenced;
      port.ref();
    } catch {
      // A program that replaced MessageChannel: its timers alone.
    }
  };
  return () => {
    try {
      if (holds === 0) proc.on("beforeExit", onEmpty);
    } catch {
      return () => {}; // A replaced process.on: the program's timers alone.
    }
    holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--holds > 0) return;
      port?.unref();
      try {
        proc.removeListener("beforeExit", onEmpty);
      } catch {
        // A replaced process.removeListener: the listener stays, and holds nothing while no hold is taken.
      }
    };
  };
}

/** The cell `Atomics.waitAsync` waits on: nothing ever notifies it, so each wait ends at its timeout. */
let cell: Int32Array | undefined;
/** Whether a wait failed (a replaced `Atomics.waitAsync`): the watchdog counts on `AbortSignal.timeout` then. */
let broken = false;

/**
 * The host's `watchTick`: `then` called once, `ms` from now, on V8's own clock (`Atomics.waitAsync`), which holds
 * nothing open.
 *
 * @param ms How long from now.
 * @param then What to call.
 * @returns Whether it will be called: not where the program removed `Atomics` or `SharedArrayBuffer` (a hardening
 *   shim, `--enable-sharedarraybuffer-per-context`), which leaves the runtime's `AbortSignal.timeout` to count.
 * @example
 * ```ts
 * import { watchTick } from "./node_watchdog.ts";
 * watchTick(1_000, () => console.log("a second, whatever the program did to its timers"));
 * ```
 */
export function watchTick(ms: number, then: () => void): boolean {
  if (broken) return false;
  try {
    cell ??= new Int32Array(new SharedArrayBuffer(4));
    const settled = Promise.resolve(Atomics.waitAsync(cell, 0, 0, ms).value);
    settled.then(() => then(), () => {
      // A replaced Atomics.waitAsync that fails: the runtime's AbortSignal.timeout counts from now on.
      broken = true;
      then();
    });
    return true;
  } catch {
    return false;
  }
}
