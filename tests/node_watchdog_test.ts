import { test } from "node:test";
import assert from "node:assert/strict";
import { loopHold, watchTick } from "../src/runtime/node_watchdog.ts";

/** A `process` whose listener methods do what `broken` says: throw, or keep what they are given. */
function emitter(broken: { on?: boolean; removeListener?: boolean } = {}) {
  const listeners = new Set<() => void>();
  return {
    listeners,
    on(_event: "beforeExit", listener: () => void) {
      if (broken.on) throw new Error("a replaced process.on");
      listeners.add(listener);
    },
    removeListener(_event: "beforeExit", listener: () => void) {
      if (broken.removeListener) throw new Error("a replaced process.removeListener");
      listeners.delete(listener);
    },
  };
}

test("a hold listens for the empty loop while held, once however many, and leaves no listener behind", () => {
  const proc = emitter();
  const holdOpen = loopHold(proc);
  const [first, second] = [holdOpen(), holdOpen()];
  assert.equal(proc.listeners.size, 1);
  first();
  first(); // twice is once
  assert.equal(proc.listeners.size, 1, "the second hold still holds");
  second();
  assert.equal(proc.listeners.size, 0);
});

test("a program's broken process.on or removeListener neither throws into it nor leaves it held", () => {
  assert.doesNotThrow(() => loopHold(emitter({ on: true }))()());
  const proc = emitter({ removeListener: true });
  const release = loopHold(proc)();
  assert.doesNotThrow(release);
  // The listener stays, and holds nothing now: the loop emptying again ends the program.
  assert.doesNotThrow(() => [...proc.listeners].forEach((listener) => listener()));
});

test("a replaced Atomics.waitAsync that fails still calls back once, and the watchdog counts elsewhere from then on", async () => {
  const { waitAsync } = Atomics;
  (Atomics as { waitAsync: unknown }).waitAsync = () => ({ async: true, value: Promise.reject(new Error("broken")) });
  try {
    const called = await new Promise<boolean>((resolve) => {
      if (!watchTick(10, () => resolve(true))) resolve(false);
    });
    assert.equal(called, true);
    assert.equal(watchTick(10, () => {}), false, "AbortSignal.timeout counts instead");
  } finally {
    Atomics.waitAsync = waitAsync;
  }
});
