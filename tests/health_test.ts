import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { CIRCUIT_BACKOFF, EndpointHealth } from "../src/health.ts";
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
