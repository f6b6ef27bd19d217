import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import process from "node:process";
import { CIRCUIT_BACKOFF, EndpointHealth, recordedHealth } from "../src/health.ts";
import { shortHash } from "../src/hash.ts";
import { host } from "../src/runtime/mod.ts";
import { tempDir } from "./helpers/spool_dir.ts";

const fs = host().files!;
const endpoint = "https://telemetry.example/v1.1/events/json";

function health(dir: string, clock: { now: number }) {
  return new EndpointHealth(fs, dir, endpoint, () => clock.now, () => 0.5);
}

test("a failure opens the circuit until a jittered backoff has passed, and other runs see it", () => {
  using dir = tempDir();
  const clock = { now: 1_000_000 };
  const first = health(dir.path, clock);
  assert.equal(first.isOpen(), false);
  first.recordFailure();
  const wait = CIRCUIT_BACKOFF.initialMs * 0.75; // equal jitter at 0.5
  assert.deepEqual(first.state, { failures: 1, notBefore: clock.now + wait });
  const later = health(dir.path, clock);
  assert.equal(later.isOpen(), true, "a later run reads the state from disk");
  clock.now += wait;
  assert.equal(health(dir.path, clock).isOpen(), false, "after T one run may probe");
});

test("consecutive failures double the wait, and the server's Retry-After is a floor", () => {
  using dir = tempDir();
  const clock = { now: 0 };
  const h = health(dir.path, clock);
  h.recordFailure();
  h.recordFailure();
  assert.equal(h.state?.notBefore, CIRCUIT_BACKOFF.initialMs * 2 * 0.75);
  h.recordFailure(3_000_000);
  assert.equal(h.state?.notBefore, 3_000_000);
});

test("a success clears the state and the file, and says whether there was one", () => {
  using dir = tempDir();
  const clock = { now: 0 };
  const h = health(dir.path, clock);
  assert.equal(h.recordSuccess(), false);
  h.recordFailure();
  assert.equal(readdirSync(dir.path).length, 1);
  assert.equal(h.recordSuccess(), true);
  assert.deepEqual(readdirSync(dir.path), []);
  assert.equal(health(dir.path, clock).state, undefined);
});

test("a wait the server asked for while it delivered holds every run off for that long, exactly; a later wait stands", () => {
  using dir = tempDir();
  const clock = { now: 1_000_000 };
  const h = health(dir.path, clock);
  h.recordWait(60_000);
  assert.deepEqual(h.state, { failures: 1, notBefore: clock.now + 60_000 }, "the server's time, not the backoff's");
  assert.equal(health(dir.path, clock).isOpen(), true, "a later run reads it from disk");
  h.recordWait(5_000);
  assert.equal(h.state?.notBefore, clock.now + 60_000, "a shorter wait does not cut a longer one");
  h.recordFailure();
  h.recordWait(1_000);
  // The backoff after a second failure (45 s) ends before the server's wait: that stands too.
  assert.equal(CIRCUIT_BACKOFF.initialMs * 2 * 0.75, 45_000);
  assert.deepEqual(h.state, { failures: 2, notBefore: clock.now + 60_000 });
  clock.now += 3_600_000;
  h.recordWait(1_000);
  assert.deepEqual(h.state, { failures: 2, notBefore: clock.now + 1_000 }, "the failures on record are kept");
});

test("a probing run holds the others off with a lease", () => {
  using dir = tempDir();
  const clock = { now: 0 };
  const h = health(dir.path, clock);
  h.recordFailure();
  clock.now = h.state!.notBefore;
  h.lease(3_000);
  assert.equal(health(dir.path, clock).isOpen(), true);
  assert.equal(h.isOpen(), false, "the lease holder itself may deliver");
  assert.equal(h.state?.failures, 1, "the lease keeps the failure count");
});

test("a corrupt health file reads as healthy; endpoints do not share state", () => {
  using dir = tempDir();
  const clock = { now: 0 };
  const h = health(dir.path, clock);
  h.recordFailure();
  const other = new EndpointHealth(fs, dir.path, "https://other.example/", () => 0, () => 0.5);
  assert.equal(other.isOpen(), false);
  writeFileSync(h.path, "{not json");
  assert.equal(health(dir.path, clock).isOpen(), false);
});

test("a health file set too far ahead (written while the clock ran ahead) is removed, not kept to hold runs off later", () => {
  using dir = tempDir();
  const clock = { now: 1_000_000_000_000 };
  const h = health(dir.path, clock);
  const tenHours = 36_000_000;
  writeFileSync(h.path, JSON.stringify({ failures: 3, notBefore: clock.now + tenHours, endpoint }));
  assert.equal(health(dir.path, clock).isOpen(), false, "ignored now");
  assert.equal(existsSync(h.path), false, "and gone");
  clock.now += tenHours - 60_000;
  assert.equal(
    health(dir.path, clock).isOpen(),
    false,
    "so that nothing holds the endpoint off once the clock is near",
  );
});

test("a health file with a time before 1970 (no timestamp shows it) is invalid: inspect leaves it out, a run removes it", () => {
  using dir = tempDir();
  const clock = { now: 1_000_000_000_000 };
  const h = health(dir.path, clock);
  writeFileSync(h.path, JSON.stringify({ failures: 1, notBefore: -1e20, endpoint }));
  assert.deepEqual(recordedHealth(fs, dir.path, clock.now), [], "inspect, which prints the time, never sees it");
  assert.equal(health(dir.path, clock).isOpen(), false);
  assert.equal(existsSync(h.path), false);
});

test("a link or a FIFO in a health file's place is removed, never followed or opened for reading", () => {
  using dir = tempDir();
  const h = health(dir.path, { now: 0 });
  const target = `${dir.path}/elsewhere.json`;
  writeFileSync(target, JSON.stringify({ failures: 1, notBefore: 1000 }));
  symlinkSync(target, h.path);
  assert.equal(health(dir.path, { now: 0 }).isOpen(), false);
  assert.deepEqual([existsSync(h.path), existsSync(target)], [false, true], "the link is gone, its target left");
  if (process.platform !== "win32") {
    execFileSync("mkfifo", [h.path]);
    assert.equal(health(dir.path, { now: 0 }).isOpen(), false);
    assert.equal(existsSync(h.path), false, "the FIFO is gone");
  }
});

test("runs failing together are one failure; none shortens a longer wait another process recorded", () => {
  using dir = tempDir();
  const clock = { now: 1_000_000 };
  const first = health(dir.path, clock); // read while the endpoint was healthy
  const second = health(dir.path, clock);
  health(dir.path, clock).recordFailure(600_000); // another process: a server asked for ten minutes
  first.recordFailure();
  assert.deepEqual(first.state, { failures: 1, notBefore: clock.now + 600_000 }, "one outage, the longer wait");
  second.recordWait(60_000); // a probe told to wait a minute
  assert.deepEqual(health(dir.path, clock).state, { failures: 1, notBefore: clock.now + 600_000 });
  // A pause ended by another run meanwhile: the server's wait is written, whatever this run last read.
  health(dir.path, clock).forget();
  second.recordWait(60_000);
  assert.equal(health(dir.path, clock).state?.notBefore, clock.now + 60_000);
  // A run that read the failure on record, and fails again after the wait: one more.
  clock.now += 600_000;
  const later = health(dir.path, clock);
  later.recordFailure();
  assert.equal(later.state?.failures, 2);
});

test("a health file names its endpoint's URL, and files of older versions without it still read", () => {
  using dir = tempDir();
  const clock = { now: 1_000_000 };
  health(dir.path, clock).recordFailure();
  const name = `health-${shortHash(endpoint)}.json`;
  assert.equal(JSON.parse(readFileSync(`${dir.path}/${name}`, "utf8")).endpoint, endpoint);
  assert.deepEqual(recordedHealth(fs, dir.path, clock.now).map((entry) => [entry.endpoint, entry.hash]), [
    [endpoint, shortHash(endpoint)],
  ]);
  // As an older version wrote it: no URL.
  writeFileSync(`${dir.path}/${name}`, JSON.stringify({ failures: 2, notBefore: clock.now + 60_000 }));
  assert.deepEqual(health(dir.path, clock).state, { failures: 2, notBefore: clock.now + 60_000 });
  const [old] = recordedHealth(fs, dir.path, clock.now);
  assert.deepEqual([old.endpoint, old.hash, old.state.failures], [undefined, shortHash(endpoint), 2]);
  // A URL too long to keep the file readable is left out; the state is what matters.
  const long = `https://example.com/${"x".repeat(5000)}`;
  new EndpointHealth(fs, dir.path, long, () => clock.now, () => 0.5).recordFailure();
  assert.equal(new EndpointHealth(fs, dir.path, long, () => clock.now, () => 0.5).state?.failures, 1);
  // One that may carry a secret (credentials, a query's token) is left out: no secret is written to disk.
  for (const secret of ["https://ingest:S3CRET@example.com/e", "https://example.com/e?token=T0KEN"]) {
    new EndpointHealth(fs, dir.path, secret, () => clock.now, () => 0.5).recordFailure();
    const text = readFileSync(`${dir.path}/health-${shortHash(secret)}.json`, "utf8");
    assert.doesNotMatch(text, /S3CRET|T0KEN|example\.com/, text);
    assert.equal(new EndpointHealth(fs, dir.path, secret, () => clock.now, () => 0.5).state?.failures, 1);
  }
});

test("a program with a fetch of its own keeps its health under its key, and says which endpoint's it is", () => {
  using dir = tempDir();
  const clock = { now: 1_000_000 };
  const own = (url: string) => new EndpointHealth(fs, dir.path, url, () => clock.now, () => 0.5, "0123abcd");
  const secret = "https://ingest:S3CRET@example.com/e";
  for (const url of [endpoint, secret]) {
    own(url).recordFailure();
    const text = readFileSync(`${dir.path}/health-0123abcd.json`, "utf8");
    assert.doesNotMatch(text, /S3CRET/, text);
    const [entry] = recordedHealth(fs, dir.path, clock.now);
    assert.deepEqual([entry.hash, entry.endpointHash], ["0123abcd", shortHash(url)], "its endpoint's hash, kept");
    assert.equal(health(dir.path, clock).state, undefined, "not the endpoint's own health");
    own(url).forget();
  }
  // As this version wrote it first: the URL, without its hash.
  writeFileSync(`${dir.path}/health-0123abcd.json`, JSON.stringify({ failures: 1, notBefore: 2_000_000, endpoint }));
  assert.equal(recordedHealth(fs, dir.path, clock.now)[0].endpointHash, shortHash(endpoint));
});

test("a hand-off is noted once on the state as the file has it now, never on an older one the run read at its start", () => {
  using dir = tempDir();
  const clock = { now: 1_000_000 };
  health(dir.path, clock).recordFailure();
  const run = health(dir.path, clock); // a run reads the state at its start
  clock.now += CIRCUIT_BACKOFF.initialMs; // the backoff has lapsed
  run.noteHandOff();
  assert.deepEqual(health(dir.path, clock).state?.handedOffAt, clock.now, "noted");
  clock.now += 1000;
  run.noteHandOff();
  assert.equal(health(dir.path, clock).state?.handedOffAt, clock.now - 1000, "once");
  // Meanwhile a sender probed and reported a new failure, with its backoff in force: a run still holding the old
  // state writes nothing back (the new failure count and backoff stay), and notes nothing (no sender will probe).
  const older = health(dir.path, clock);
  clock.now += CIRCUIT_BACKOFF.initialMs;
  const sender = health(dir.path, clock);
  sender.recordFailure();
  const reported = sender.state;
  older.noteHandOff();
  assert.deepEqual(health(dir.path, clock).state, reported);
});

test("a hand-off noted ahead of the clock (one set back since) is not taken for one", () => {
  using dir = tempDir();
  const clock = { now: 1_000_000 };
  const h = health(dir.path, clock);
  h.recordFailure();
  writeFileSync(h.path, JSON.stringify({ failures: 1, notBefore: clock.now, handedOffAt: clock.now + 86_400_000 }));
  assert.deepEqual(health(dir.path, clock).state, { failures: 1, notBefore: clock.now });
});
