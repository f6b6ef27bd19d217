import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_RETRY_AFTER_MS, parseRetryAfter, retryDelay } from "../src/backoff.ts";

const now = Date.parse("2026-11-28T12:00:00Z");

test("Retry-After in seconds is read as milliseconds", () => {
  assert.equal(parseRetryAfter("120", now), 120_000);
  assert.equal(parseRetryAfter(" 0 ", now), 0);
});

test("Retry-After as an HTTP date is the time until then; a past date is 0", () => {
  assert.equal(parseRetryAfter("Sat, 28 Nov 2026 12:00:30 GMT", now), 30_000);
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now), 0);
});

test("Retry-After is clamped to an hour; garbage and absence are ignored", () => {
  assert.equal(parseRetryAfter("999999999", now), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", now), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter("-5", now), undefined);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

test("backoff doubles per retry, jittered between half and all of it, and is capped", () => {
  const policy = { initialMs: 1000, maxMs: 8000 };
  assert.equal(retryDelay(1, policy, () => 0), 500);
  assert.equal(retryDelay(1, policy, () => 0.999999), 999.9995);
  assert.equal(retryDelay(3, policy, () => 0), 2000);
  assert.equal(retryDelay(3, policy, () => 0.5), 3000);
  assert.equal(retryDelay(10, policy, () => 0), 4000);
  assert.equal(retryDelay(10, policy, () => 1), 8000);
});

test("backoff is never shorter than the server's Retry-After", () => {
  assert.equal(retryDelay(1, { initialMs: 1000, maxMs: 60_000 }, () => 0.5, 30_000), 30_000);
  assert.equal(retryDelay(1, { initialMs: 0, maxMs: 0 }, () => 0.5, 5_000), 5_000);
});

test("an initial backoff of 0 makes a retry eligible at once, as in the Python handler", () => {
  assert.equal(retryDelay(3, { initialMs: 0, maxMs: 60_000 }, Math.random), 0);
});
