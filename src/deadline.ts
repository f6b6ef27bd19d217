/**
 * A deadline that a stalled process does not misread. A process the OS did
 * not run for a while (a loaded machine, a stopped job, a laptop waking up)
 * finds, when it runs again, its timer due and, often, the answer it was
 * waiting for already on the socket; timers run before I/O is read, so the
 * timeout would win, and an event the endpoint accepted would be sent again.
 * When the timer fires late, the deadline first lets what has arrived be read.
 * The program's own code holding the event loop makes a timer late too, and
 * gets the same grace: there too, what arrived could not be read. Graces are
 * bounded (at most {@link MAX_GRACES} of at most 250 ms): they add at most a
 * second to a deadline, besides the stalls themselves. Timers a program
 * replaced with ones that never fire (a test's fake timers) do not make the
 * exit wait forever: the runtime's own `AbortSignal.timeout` ends its deadline
 * a little later.
 *
 * @module
 */

/**
 * The longest delay a timer can wait, in milliseconds: `setTimeout` takes a signed 32-bit number (2^31 − 1,
 * about 24.8 days); a longer one fires at once, in every runtime. Every duration option must fit.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer this much late means the process was not running: what arrived meanwhile is read first. */
const STALL_MS = 25;
/** How long reading what arrived during a stall may take before the deadline acts: as long as the stall, within these. */
const GRACE_MS = { min: 50, max: 250 };
/** Graces in a row, while the process keeps being stalled. */
const MAX_GRACES = 4;

/** How a deadline's timer is kept. */
export interface DeadlineOptions {
  /** Keeps the timer from holding the process open (the host's `unrefTimer`). */
  unref?: (timer: ReturnType<typeof setTimeout>) => void;
  /**
   * Whether the runtime's own `AbortSignal.timeout` ends the deadline when the program's timers never fire (a
   * test's fake timers), 1.25 s past its latest end: for the exit's budget, which a run must never wait past. Not for
   * each request: a timeout signal cannot be cancelled, and would be held until it fires.
   */
  backstop?: boolean;
}

/**
 * Calls `fire` once `ms` have passed, or, when the process was stalled past
 * that time, a grace as long as the stall (50-250 ms) after it runs again
 * (again, while it stalls, at most {@link MAX_GRACES} times).
 *
 * @param ms How long until the deadline.
 * @param fire What the deadline does.
 * @param options How its timer is kept.
 * @returns A function that cancels the deadline.
 * @example
 * ```ts
 * import { setDeadline } from "./deadline.ts";
 * const controller = new AbortController();
 * const cancel = setDeadline(2_000, () => controller.abort());
 * cancel(); // the request ended in time
 * ```
 */
export function setDeadline(ms: number, fire: () => void, options: DeadlineOptions = {}): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ticked = false;
  let over = false;
  let backstop: AbortSignal | undefined;
  const stop = () => {
    over = true;
    clearTimeout(timer);
    backstop?.removeEventListener("abort", onBackstop);
  };
  const end = () => {
    if (over) return;
    stop();
    fire();
  };
  // Unless the timers ticked: they give the graces.
  const onBackstop = () => ticked || end();
  const arm = (delay: number, graces: number) => {
    const due = Date.now() + delay;
    try {
      timer = setTimeout(() => {
        ticked = true;
        const late = Date.now() - due;
        if (late <= STALL_MS || graces === 0) return end();
        arm(Math.min(Math.max(late, GRACE_MS.min), GRACE_MS.max), graces - 1);
      }, delay);
      options.unref?.(timer);
    } catch {
      // A replaced setTimeout that throws: only a backstop ends the deadline.
    }
  };
  if (options.backstop) {
    try {
      // Unreferenced under Node.js and Bun; under Deno, once its listener is removed.
      backstop = AbortSignal.timeout(Math.min(ms + (MAX_GRACES + 1) * GRACE_MS.max, MAX_TIMER_MS));
      backstop.addEventListener("abort", onBackstop);
    } catch {
      // A replaced AbortSignal: the timers alone.
    }
  }
  arm(ms, MAX_GRACES);
  return stop;
}
