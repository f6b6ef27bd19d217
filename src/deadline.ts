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
 * second to a deadline, besides the stalls themselves.
 *
 * @module
 */

/** A timer this much late means the process was not running: what arrived meanwhile is read first. */
const STALL_MS = 25;
/** How long reading what arrived during a stall may take before the deadline acts: as long as the stall, within these. */
const GRACE_MS = { min: 50, max: 250 };
/** Graces in a row, while the process keeps being stalled. */
const MAX_GRACES = 4;

/**
 * Calls `fire` once `ms` have passed, or, when the process was stalled past
 * that time, a grace as long as the stall (50-250 ms) after it runs again
 * (again, while it stalls, at most {@link MAX_GRACES} times).
 *
 * @param ms How long until the deadline.
 * @param fire What the deadline does.
 * @param unref Keeps the timer from holding the process open (the host's `unrefTimer`).
 * @returns A function that cancels the deadline.
 * @example
 * ```ts
 * import { setDeadline } from "./deadline.ts";
 * const controller = new AbortController();
 * const cancel = setDeadline(2_000, () => controller.abort());
 * cancel(); // the request ended in time
 * ```
 */
export function setDeadline(
  ms: number,
  fire: () => void,
  unref: (timer: ReturnType<typeof setTimeout>) => void = () => {},
): () => void {
  let timer: ReturnType<typeof setTimeout>;
  const arm = (delay: number, graces: number) => {
    const due = Date.now() + delay;
    timer = setTimeout(() => {
      const late = Date.now() - due;
      if (late <= STALL_MS || graces === 0) return fire();
      arm(Math.min(Math.max(late, GRACE_MS.min), GRACE_MS.max), graces - 1);
    }, delay);
    unref(timer);
  };
  arm(ms, MAX_GRACES);
  return () => clearTimeout(timer);
}
