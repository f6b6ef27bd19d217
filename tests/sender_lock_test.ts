/**
 * The sender's lock: at most one sender per spool key, whatever the race;
 * a lock left by a killed sender is ignored once a sender's life has passed;
 * a sender removes only its own. Unit tests on a real spool directory, and a
 * real race of processes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { host } from "../src/runtime/mod.ts";
import { MAX_SENDER_LIFETIME_MS, releaseSenderLock, senderAlive, takeSenderLock } from "../src/sender_lock.ts";
import { runChild } from "./helpers/child.ts";
import { files as names, tempDir } from "./helpers/spool_dir.ts";

const files = host().files!;
const KEY = "0123abcd";
const lockName = (made: number) => `sender-${KEY}-${String(made).padStart(13, "0")}-00000000abcd.lock`;

test("one holder per key: a second taker is refused until the first lets go; other keys are free", async () => {
  using dir = tempDir();
  const first = await takeSenderLock(files, dir.path, KEY);
  assert.ok(first);
  assert.equal(senderAlive(files, dir.path, KEY, Date.now()), true);
  assert.equal(await takeSenderLock(files, dir.path, KEY), undefined);
  assert.ok(await takeSenderLock(files, dir.path, "fedcba98"), "another endpoint's sender");
  releaseSenderLock(files, dir.path, first);
  assert.equal(senderAlive(files, dir.path, KEY, Date.now()), false);
  assert.ok(await takeSenderLock(files, dir.path, KEY));
});

test("a killed sender's lock is ignored once a sender's life has passed, and removed by whoever sees it", async () => {
  using dir = tempDir();
  const dead = lockName(Date.now() - MAX_SENDER_LIFETIME_MS - 1);
  writeFileSync(`${dir.path}/${dead}`, "");
  assert.equal(senderAlive(files, dir.path, KEY, Date.now()), false);
  assert.ok(!names(dir.path).includes(dead), "removed");
  const future = lockName(Date.now() + MAX_SENDER_LIFETIME_MS + 60_000); // a clock that has since gone back
  writeFileSync(`${dir.path}/${future}`, "");
  assert.ok(await takeSenderLock(files, dir.path, KEY), "taken over");
});

test("a sender removes only its own lock, never another's", () => {
  using dir = tempDir();
  const other = lockName(Date.now());
  writeFileSync(`${dir.path}/${other}`, "");
  releaseSenderLock(files, dir.path, lockName(Date.now() - 5));
  assert.ok(names(dir.path).includes(other));
  assert.equal(senderAlive(files, dir.path, KEY, Date.now()), true);
});

test("twelve processes racing for one key, three times: exactly one holds it", async () => {
  for (let round = 0; round < 3; round++) {
    using dir = tempDir();
    writeFileSync(`${dir.path}/${lockName(Date.now() - MAX_SENDER_LIFETIME_MS - 1000)}`, ""); // a killed sender's
    const at = String(Date.now() + 2500); // every contender has started by then
    const runs = await Promise.all(
      Array.from({ length: 12 }, () => runChild("lock_taker.ts", { args: [dir.path, at] })),
    );
    const took = runs.filter((run) => run.stdout.trim() === "took").length;
    assert.deepEqual(runs.map((run) => run.code), Array(12).fill(0), runs.map((run) => run.stderr).join(""));
    assert.equal(took, 1, `round ${round}: one holder, not ${took}: never two, and never none for good`);
  }
});
