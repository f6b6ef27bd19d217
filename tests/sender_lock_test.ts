/**
 * The sender's lock: at most one sender per spool key, whatever the race;
 * a lock left by a killed sender is ignored once a sender's life has passed;
 * a sender removes only its own. The start marks of runs about to start a
 * sender: one run of many ending at once starts it; the sender's lock takes
 * over from the marks; a mark whose sender never started holds runs off only
 * for a while. Unit tests on a real spool directory, and real races of
 * processes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { host, type HostFiles } from "../src/runtime/mod.ts";
import {
  clearStartMark,
  clearStartMarks,
  markSenderStart,
  MAX_OTHER_SENDERS,
  MAX_SENDER_LIFETIME_MS,
  releaseSenderLock,
  senderAlive,
  START_MARK_MS,
  takeSenderLock,
} from "../src/sender_lock.ts";
import { shortHash } from "../src/hash.ts";
import { type ChildResult, startChild } from "./helpers/child.ts";
import { waitFor } from "./helpers/wait.ts";
import { files as names, tempDir } from "./helpers/spool_dir.ts";

const files = host().files!;
const KEY = "0123abcd";
const ENDPOINT = "https://example.com/events";
const lockName = (made: number) => `sender-${KEY}-${String(made).padStart(13, "0")}-00000000abcd.lock`;
const markName = (made: number) => lockName(made).replace(/\.lock$/, ".start");
const marks = (dir: string) => names(dir).filter((name) => name.endsWith(".start"));

/**
 * Starts `count` contenders (`fixtures/lock_taker.ts`, each given `args(go, i)`) and opens their gate once every one
 * has started, however long a loaded machine takes to start them: they try at once. A holder of the lock lets go once
 * the others have ended (each has tried).
 */
async function contenders(count: number, args: (go: string, i: number) => string[]): Promise<ChildResult[]> {
  using gate = tempDir();
  const go = `${gate.path}/go`;
  let ended = 0;
  const runs = Array.from({ length: count }, (_, i) => {
    const run = startChild("lock_taker.ts", { args: args(go, i), limitMs: 120_000 });
    return run.result.finally(() => ended++);
  });
  // A contender that ended before it said it started (it could not start) leaves the reason in its result.
  await waitFor(() => names(gate.path).length === count || ended > 0, "every contender started", 50_000);
  writeFileSync(go, "");
  await waitFor(() => ended >= count - 1, "every contender but a holder ended", 50_000);
  writeFileSync(`${go}.release`, "");
  return await Promise.all(runs);
}

test("one holder per key: a second taker is refused until the first lets go; other keys are free", async () => {
  using dir = tempDir();
  const first = await takeSenderLock(files, dir.path, KEY, ENDPOINT);
  assert.ok(first);
  assert.equal(senderAlive(files, dir.path, KEY, Date.now()), true);
  assert.equal(await takeSenderLock(files, dir.path, KEY, ENDPOINT), undefined);
  assert.ok(await takeSenderLock(files, dir.path, "fedcba98", ENDPOINT), "another endpoint's sender");
  releaseSenderLock(files, dir.path, first);
  assert.equal(senderAlive(files, dir.path, KEY, Date.now()), false);
  assert.ok(await takeSenderLock(files, dir.path, KEY, ENDPOINT));
});

test("a killed sender's lock is ignored once a sender's life has passed, and removed by whoever sees it", async () => {
  using dir = tempDir();
  const dead = lockName(Date.now() - MAX_SENDER_LIFETIME_MS - 1);
  writeFileSync(`${dir.path}/${dead}`, "");
  assert.equal(senderAlive(files, dir.path, KEY, Date.now()), false);
  assert.ok(!names(dir.path).includes(dead), "removed");
  const future = lockName(Date.now() + MAX_SENDER_LIFETIME_MS + 60_000); // a clock that has since gone back
  writeFileSync(`${dir.path}/${future}`, "");
  assert.ok(await takeSenderLock(files, dir.path, KEY, ENDPOINT), "taken over");
});

test("a sender removes only its own lock, never another's", () => {
  using dir = tempDir();
  const other = lockName(Date.now());
  writeFileSync(`${dir.path}/${other}`, "");
  releaseSenderLock(files, dir.path, lockName(Date.now() - 5));
  assert.ok(names(dir.path).includes(other));
  assert.equal(senderAlive(files, dir.path, KEY, Date.now()), true);
});

test("twelve processes racing for one key, three times: exactly one holds it", { timeout: 180_000 }, async () => {
  for (let round = 0; round < 3; round++) {
    using dir = tempDir();
    writeFileSync(`${dir.path}/${lockName(Date.now() - MAX_SENDER_LIFETIME_MS - 1000)}`, ""); // a killed sender's
    const runs = await contenders(12, (go) => [dir.path, go]);
    const took = runs.filter((run) => run.stdout.trim() === "took").length;
    assert.deepEqual(runs.map((run) => run.code), Array(12).fill(0), runs.map((run) => run.stderr).join(""));
    assert.equal(took, 1, `round ${round}: one holder, not ${took}: never two, and never none for good`);
  }
});

test("a run's start mark holds other runs off until its sender takes the lock, which removes the mark", async () => {
  using dir = tempDir();
  const mark = markSenderStart(files, dir.path, KEY, ENDPOINT);
  assert.ok(typeof mark === "string" && mark.endsWith(".start"), `a mark: ${mark}`);
  assert.equal(senderAlive(files, dir.path, KEY, Date.now()), false, "a mark is no sender at work");
  assert.equal(markSenderStart(files, dir.path, KEY, ENDPOINT), "at work", "a second run starts none");
  assert.deepEqual(marks(dir.path), [mark], "and leaves no mark");
  assert.notEqual(
    markSenderStart(files, dir.path, "fedcba98", ENDPOINT),
    "at work",
    "another endpoint's runs are not held off",
  );
  const lock = await takeSenderLock(files, dir.path, KEY, ENDPOINT);
  assert.ok(lock, "the marked-for sender takes the lock: marks never hold a sender off");
  assert.deepEqual(marks(dir.path).filter((name) => name.includes(KEY)), [], "the lock took over from the mark");
  assert.equal(markSenderStart(files, dir.path, KEY, ENDPOINT), "at work", "the lock holds runs off now");
  releaseSenderLock(files, dir.path, lock);
  assert.notEqual(markSenderStart(files, dir.path, KEY, ENDPOINT), "at work", "a sender gone: the next run starts one");
});

test("beside as many senders of other keys of its endpoint as may work at once, a run starts none: its exit delivers", () => {
  using dir = tempDir();
  const now = Date.now();
  const tag = shortHash(new URL(ENDPOINT).origin).slice(0, 4); // a lock's or mark's name says its endpoint's host so
  const other = (key: string, made: number, kind = "lock", endpoint = tag) =>
    `sender-${key}-${made}-${endpoint}0000abcd.${kind}`;
  // Senders of other keys at work, all but one as many as may be, one long dead (past a sender's life), and others
  // of another endpoint, which are not counted.
  const beside = [...Array(MAX_OTHER_SENDERS - 1).keys()].map((i) => other(`0000000${i}`, now - 500 + i));
  const dead = other("00000009", now - 60_000);
  const elsewhere = [...Array(MAX_OTHER_SENDERS).keys()].map((i) => other(`0000001${i}`, now - 300, "lock", "ffff"));
  for (const name of [...beside, dead, ...elsewhere]) writeFileSync(`${dir.path}/${name}`, "");
  const mark = markSenderStart(files, dir.path, KEY, ENDPOINT);
  assert.ok(typeof mark === "string" && mark.endsWith(".start"), `one short of the most: it starts one (${mark})`);
  clearStartMark(files, dir.path, mark);
  writeFileSync(`${dir.path}/${other("0000000f", now - 100, "start")}`, "");
  assert.equal(markSenderStart(files, dir.path, KEY, ENDPOINT), "crowded", "the most at work or starting: none");
  assert.deepEqual(marks(dir.path).filter((name) => name.includes(KEY)), [], "and it leaves no mark");
  assert.ok(!names(dir.path).includes(dead), "the dead one's lock is removed on the way");
  for (const perRun of [`${ENDPOINT}?run=7#x`, `${ENDPOINT}/runs/7`, "https://run-7@example.com/events"]) {
    assert.equal(markSenderStart(files, dir.path, KEY, perRun), "crowded", `a setting of one host: ${perRun}`);
  }
  const elsewhereMark = markSenderStart(files, dir.path, KEY, "https://other.example/events");
  assert.ok(elsewhereMark?.endsWith(".start"), "another endpoint's run starts one");
  clearStartMark(files, dir.path, elsewhereMark);
  writeFileSync(`${dir.path}/${lockName(now - 50)}`, "");
  assert.equal(
    markSenderStart(files, dir.path, KEY, ENDPOINT),
    "at work",
    "its own key's sender at work takes its events",
  );
});

test("runs of many keys marking at once: as many start a sender as may work beside those before them", {
  timeout: 180_000,
}, async () => {
  using dir = tempDir();
  const runs = await contenders(12, (go, i) => [dir.path, go, "mark", `000000${String(i).padStart(2, "0")}`]);
  assert.deepEqual(runs.map((run) => run.code), Array(12).fill(0), runs.map((run) => run.stderr).join(""));
  const outcomes = runs.map((run) => run.stdout.trim());
  const started = outcomes.filter((outcome) => outcome === "took").length;
  // The oldest marks start theirs, as many as may work at once beside the others; one more where one marks within a
  // few milliseconds while another looks (a run held up longer counts every mark it finds), and one or two fewer where
  // held-up runs count each other. Each of the twelve, before marks; 9-10 on a loaded machine before runs held up
  // counted the younger ones; a rule that counts too much starts one alone.
  assert.ok(
    started >= MAX_OTHER_SENDERS - 2 && started <= MAX_OTHER_SENDERS + 2,
    `${started} of 12 would start a sender: ${outcomes}`,
  );
  assert.equal(outcomes.filter((outcome) => outcome === "crowded").length, 12 - started, `${outcomes}`);
});

test("a run held up between its mark's time and its file counts the other keys' marks made meanwhile, younger too", () => {
  using dir = tempDir();
  const tag = shortHash(new URL(ENDPOINT).origin).slice(0, 4);
  const heldUp: HostFiles = {
    ...files,
    create(path, text) {
      // Meanwhile (the run preempted), as many runs of other keys as may work at once mark, look, and miss its mark.
      const made = Date.now() + 1;
      for (let i = 0; i < MAX_OTHER_SENDERS; i++) {
        writeFileSync(`${dir.path}/sender-0000002${i}-${made}-${tag}0000abcd.start`, "");
      }
      const until = performance.now() + 20; // past LATE_MS
      while (performance.now() < until) {
        // Held up.
      }
      files.create(path, text);
    },
  };
  assert.equal(markSenderStart(heldUp, dir.path, KEY, ENDPOINT), "crowded", "theirs started without counting it");
  assert.deepEqual(marks(dir.path).filter((name) => name.includes(KEY)), [], "and it leaves no mark");
  const onTime = markSenderStart(files, dir.path, "fedcba98", ENDPOINT);
  assert.equal(onTime, "crowded", "a run after them counts them too");
});

test("a sender that finds the key locked by another (an older version's, which knows no marks) removes the marks", async () => {
  using dir = tempDir();
  const mark = markSenderStart(files, dir.path, KEY, ENDPOINT);
  assert.notEqual(mark, "at work");
  const other = lockName(Date.now());
  writeFileSync(`${dir.path}/${other}`, "");
  assert.equal(await takeSenderLock(files, dir.path, KEY, ENDPOINT), undefined, "held by the other");
  assert.deepEqual(marks(dir.path), [], "the other's lock holds runs off from now on");
  assert.ok(names(dir.path).includes(other), "and stays");
});

test("a run whose sender did not start removes its mark; a mark left by one that never started holds runs off no more than its life", () => {
  using dir = tempDir();
  const mark = markSenderStart(files, dir.path, KEY, ENDPOINT);
  assert.notEqual(mark, "at work");
  clearStartMark(files, dir.path, mark as string);
  assert.deepEqual(marks(dir.path), []);
  const stale = markName(Date.now() - START_MARK_MS - 1);
  const future = markName(Date.now() + START_MARK_MS + 60_000); // a clock that has since gone back
  for (const name of [stale, future]) writeFileSync(`${dir.path}/${name}`, "");
  assert.equal(senderAlive(files, dir.path, KEY, Date.now()), false);
  assert.notEqual(markSenderStart(files, dir.path, KEY, ENDPOINT), "at work");
  assert.ok(!names(dir.path).includes(stale) && !names(dir.path).includes(future), "both removed");
  assert.equal(START_MARK_MS < MAX_SENDER_LIFETIME_MS, true, "a mark lives shorter than a lock");
});

test("a mark holds runs off while its sender may still be starting on a loaded machine (98-266 ms seen, 12 at once)", () => {
  using dir = tempDir();
  const slow = markName(Date.now() - 300);
  writeFileSync(`${dir.path}/${slow}`, "");
  assert.equal(markSenderStart(files, dir.path, KEY, ENDPOINT), "at work", "its sender is on its way");
  assert.ok(names(dir.path).includes(slow), "and its mark stays");
});

test("a spool directory removed while a sender works (the user cleared their cache) is not made again", async () => {
  using dir = tempDir();
  const lock = await takeSenderLock(files, dir.path, KEY, ENDPOINT);
  const mark = markSenderStart(files, dir.path, "fedcba98", ENDPOINT);
  assert.ok(lock && mark && mark !== "at work");
  rmSync(dir.path, { recursive: true });
  releaseSenderLock(files, dir.path, lock);
  clearStartMark(files, dir.path, mark);
  clearStartMarks(files, dir.path, KEY);
  assert.equal(existsSync(dir.path), false, "not by letting go of the lock, or removing marks");
  assert.equal(
    await takeSenderLock(files, dir.path, KEY, ENDPOINT),
    undefined,
    "a sender started for it has nothing to send",
  );
  assert.equal(existsSync(dir.path), false, "nor by a sender starting on it");
});

test("twelve runs about to start a sender at the same moment, three times: never none, and few of the twelve", {
  timeout: 180_000,
}, async () => {
  for (let round = 0; round < 3; round++) {
    using dir = tempDir();
    const runs = await contenders(12, (go) => [dir.path, go, "mark"]);
    assert.deepEqual(runs.map((run) => run.code), Array(12).fill(0), runs.map((run) => run.stderr).join(""));
    const took = runs.filter((run) => run.stdout.trim() === "took").length;
    // More than one only when a run makes its mark after another looked, with an older time: twelve contenders
    // spinning on two cores are preempted between the two often enough to make two, sometimes three or four
    // (docs/at-exit.md). The senders' lock then decides which delivers; without marks, each of the twelve started one.
    assert.ok(took >= 1 && took <= 5, `round ${round}: ${took} runs would start a sender`);
  }
});
