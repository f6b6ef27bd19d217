/**
 * A deadline that a stalled process does not misread. A process the OS did
 * not run for a while (a loaded machine, a stopped job) finds, when it runs
 * again, its timer due and, often, the answer it was waiting for already on
 * the socket; timers run before I/O is read, so the
 * timeout would win, and an event the endpoint accepted would be sent again.
 * When the timer fires late, the deadline first lets what has arrived be read.
 * The program's own code holding the event loop makes a timer late too, and
 * gets the same grace: there too, what arrived could not be read. Graces are
 * bounded (at most {@link MAX_GRACES} of at most 250 ms): they add at most a
 * second to a deadline, besides the stalls themselves. Timers a program
 * replaced with ones that never fire (a test's fake timers) do not make a
 * deadline wait forever: a watchdog on the runtime's own `AbortSignal.timeout`
 * ends it a little later. Lateness is read on the host's monotonic clock: a
 * wall clock stepped ahead is no stall.
 *
 * @module
 */
import { host } from "./runtime/mod.ts";
import { quietly } from "./runtime/host.ts";

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

/** How often the watchdog looks at the deadlines it guards. */
const WATCH_MS = 1_000;
/** Past its time and its graces, how late a deadline the program's timers did not end may be ended. */
const BACKSTOP_MS = (MAX_GRACES + 1) * GRACE_MS.max;

/** A deadline the watchdog guards: the watchdog's looks left before it ends it. */
interface Guarded {
  looks: number;
  readonly end: () => void;
}

/**
 * The timers are the program's to replace: a test's fake timers may never fire, and a deadline that waits on them
 * alone would never end. The watchdog counts time on a clock they do not replace: the host's `watchTick` where it
 * has one (Node.js, whose `AbortSignal.timeout` runs on the `node:timers` functions that `@sinonjs/fake-timers`
 * replaces, where it is first used after them), otherwise the runtime's own `AbortSignal.timeout`: one signal a
 * second at most, for every deadline (a timeout signal cannot be cancelled: one per deadline would be held until it
 * fired), listened to only while a deadline is guarded (a signal with a listener holds a Deno process open) and
 * listened to again, while it has not fired, when one is guarded again.
 */
const watchdog = {
  guarded: new Set<Guarded>(),
  signal: undefined as AbortSignal | undefined,
  ticking: false,
  guard(deadline: Guarded): void {
    this.guarded.add(deadline);
    // A look already pending comes sooner than a second from now: one look more.
    if (this.ticking || (this.signal && !this.signal.aborted)) deadline.looks++;
    this.listen();
  },
  release(deadline: Guarded): void {
    this.guarded.delete(deadline);
    if (this.guarded.size === 0) this.signal?.removeEventListener("abort", this.look);
  },
  listen(): void {
    if (this.ticking) return;
    const tick = () => {
      this.ticking = false;
      this.look();
    };
    if (host().watchTick?.(WATCH_MS, tick)) {
      this.ticking = true;
      return;
    }
    try {
      if (!this.signal || this.signal.aborted) this.signal = AbortSignal.timeout(WATCH_MS);
      this.signal.addEventListener("abort", this.look); // once: the same listener is not added twice
    } catch {
      // A replaced AbortSignal: the timers alone.
    }
  },
  look: () => {
    for (const deadline of watchdog.guarded) if (--deadline.looks <= 0) deadline.end();
    if (watchdog.guarded.size > 0) watchdog.listen();
  },
};

/**
 * Calls `fire` once `ms` have passed, or, when the process was stalled past
 * that time, a grace as long as the stall (50-250 ms) after it runs again
 * (again, while it stalls, at most {@link MAX_GRACES} times). Where the
 * program's timers never fire, the watchdog ends it 1.25-2.25 s after its time
 * (a second more where it joins a look already pending).
 *
 * @param ms How long until the deadline.
 * @param fire What the deadline does.
 * @param unref Keeps the timer from holding the process open (the host's `unrefTimer`). Without it the deadline
 *   holds the process open until it ends, even where the program's timers are fake (the host's `holdOpen`).
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
  unref?: (timer: ReturnType<typeof setTimeout>) => void,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let over = false;
  let release: (() => void) | undefined;
  const stop = () => {
    over = true;
    clearTimeout(timer);
    watchdog.release(guarded);
    release?.();
  };
  const end = () => {
    if (over) return;
    stop();
    fire();
  };
  // Once the timers tick, they give the graces.
  const guarded: Guarded = { looks: Math.ceil((ms + BACKSTOP_MS) / WATCH_MS), end };
  const arm = (delay: number, graces: number) => {
    const due = host().monotonicMs() + delay;
    try {
      timer = setTimeout(() => {
        watchdog.release(guarded);
        const late = host().monotonicMs() - due;
        if (late <= STALL_MS || graces === 0) return end();
        arm(Math.min(Math.max(late, GRACE_MS.min), GRACE_MS.max), graces - 1);
      }, delay);
      unref?.(timer);
    } catch {
      // A replaced setTimeout that throws: the watchdog ends the deadline.
    }
  };
  watchdog.guard(guarded);
  arm(ms, MAX_GRACES);
  if (!unref) release = quietly(() => host().holdOpen?.());
  return stop;
}
