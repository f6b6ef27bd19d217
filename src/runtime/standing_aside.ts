/**
 * Signal listeners that stand aside: each ends the process of a signal only
 * when no one else listens for it, so that a program's own listener decides.
 * Ours are such listeners, in every copy of the package a process has loaded
 * (a dependency may bundle its own), and so are signal-exit's (ora, ink,
 * execa, write-file-atomic, proper-lockfile...). Each must tell the others
 * apart from the program's listeners: were each to take the others for the
 * program's, each would wait for the others, and the signal would end nothing.
 *
 * @module
 */

/** What marks a listener of ours, in any copy of the package: a symbol of the global registry. */
const STANDS_ASIDE = Symbol.for("@nat/telemetry: a signal listener that stands aside");

/**
 * Marks a listener of ours as one that stands aside.
 *
 * @param listener The listener.
 * @returns The same listener.
 * @example
 * ```ts
 * import { markStandingAside, standsAside } from "./standing_aside.ts";
 * standsAside(markStandingAside(() => {})); // true
 * ```
 */
export function markStandingAside<T extends object>(listener: T): T {
  Object.defineProperty(listener, STANDS_ASIDE, { value: true });
  return listener;
}

/**
 * Whether a listener is one of ours, from this copy of the package or another.
 *
 * @param listener A signal listener.
 * @returns `true` for ours.
 * @example
 * ```ts
 * import { standsAside } from "./standing_aside.ts";
 * standsAside(() => {}); // false: the program's
 * ```
 */
export function standsAside(listener: unknown): boolean {
  return (typeof listener === "function" || (typeof listener === "object" && listener !== null)) &&
    (listener as Record<symbol, unknown>)[STANDS_ASIDE] === true;
}

/** The part of `process` that tells what listens for a signal. */
export interface SignalListeners {
  listeners(event: string): readonly unknown[];
}

/**
 * Whether the program listens for a signal itself, in Node.js or Bun: a listener there is neither one of ours nor one
 * of signal-exit's. Each loaded copy of signal-exit counts itself on a global (version 4 on `Symbol.for("signal-exit
 * emitter")`, version 3 on `process.__signal_exit_emitter__`) and holds one listener for the signal; it ends the
 * process when its listeners are all that are left. What cannot be read is taken to be the program's.
 *
 * @param proc The process.
 * @param signal The signal.
 * @returns `true` when the program decides what the signal does.
 * @example
 * ```ts ignore
 * if (!programListens(process, "SIGINT")) process.kill(process.pid, "SIGINT");
 * ```
 */
export function programListens(proc: SignalListeners, signal: string): boolean {
  try {
    const others = proc.listeners(signal).filter((listener) => !standsAside(listener)).length;
    return others > signalExitCopies(proc);
  } catch {
    return true;
  }
}

/** How many copies of signal-exit listen, by their own count: 0 where there is none, or it cannot be read. */
function signalExitCopies(proc: object): number {
  const count = (emitter: unknown) => {
    const n = typeof emitter === "object" && emitter !== null ? (emitter as { count?: unknown }).count : undefined;
    return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? n : 0;
  };
  const v4 = (globalThis as Record<symbol, unknown>)[Symbol.for("signal-exit emitter")];
  const v3 = (proc as { __signal_exit_emitter__?: unknown }).__signal_exit_emitter__;
  return count(v4) + count(v3);
}
