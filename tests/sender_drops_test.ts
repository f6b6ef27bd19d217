import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import process from "node:process";
import { shortHash } from "../src/hash.ts";
import { host } from "../src/runtime/mod.ts";
import { recordSenderDrops, senderDrops } from "../src/sender_drops.ts";
import { tempDir } from "./helpers/spool_dir.ts";

const files = host().files!;
const endpoint = "https://telemetry.example/v1.1/events/json";
const name = `drops-${shortHash(endpoint)}.json`;

test("what senders drop adds up per endpoint and reason, from the first drop to the last", () => {
  using dir = tempDir();
  assert.equal(senderDrops(files, dir.path, endpoint), undefined);
  recordSenderDrops(files, dir.path, endpoint, { http_400: 2, retries_exhausted: 0 }, 1_000);
  recordSenderDrops(files, dir.path, endpoint, { http_400: 1, spool_full: 3 }, 5_000);
  recordSenderDrops(files, dir.path, endpoint, {}, 9_000);
  assert.deepEqual(senderDrops(files, dir.path, endpoint), {
    since: 1_000,
    last: 5_000,
    dropped: { http_400: 3, spool_full: 3 },
  });
  assert.equal(senderDrops(files, dir.path, "https://other.example/v1"), undefined, "endpoints do not share it");
  assert.equal(senderDrops(files, dir.path, endpoint, 5_001), undefined, "older than what is kept: history");
  recordSenderDrops(files, dir.path, endpoint, { http_413: 1 }, 9_000, 5_001);
  assert.deepEqual(senderDrops(files, dir.path, endpoint), { since: 9_000, last: 9_000, dropped: { http_413: 1 } });
  assert.deepEqual(readdirSync(dir.path), [name], "one file, written atomically (no temporary left)");
});

test("a record that is not ours (corrupt, huge, odd reasons) reads as none, and the next drop starts it again", () => {
  using dir = tempDir();
  const path = `${dir.path}/${name}`;
  for (
    const text of [
      "{",
      JSON.stringify({ since: 1, last: 2, dropped: { "http_400; rm -rf": 1 } }),
      JSON.stringify({ since: 1, last: 2, dropped: { http_400: -1 } }),
      JSON.stringify({ since: 3, last: 2, dropped: { http_400: 1 } }),
      JSON.stringify({ since: 1, last: 2, dropped: { http_400: 1, pad: "x".repeat(5_000) } }),
    ]
  ) {
    writeFileSync(path, text, { mode: 0o600 });
    assert.equal(senderDrops(files, dir.path, endpoint), undefined, text.slice(0, 60));
  }
  recordSenderDrops(files, dir.path, endpoint, { http_413: 1 }, 7_000);
  assert.deepEqual(senderDrops(files, dir.path, endpoint), { since: 7_000, last: 7_000, dropped: { http_413: 1 } });
});

test("a link or a FIFO in the record's place is never followed or read, and is replaced, not written through", {
  skip: process.platform === "win32" && "no FIFOs",
}, () => {
  using dir = tempDir();
  const path = `${dir.path}/${name}`;
  const target = `${dir.path}/elsewhere.json`;
  writeFileSync(target, JSON.stringify({ since: 1, last: 1, dropped: { http_400: 9 } }), { mode: 0o600 });
  symlinkSync(target, path);
  assert.equal(senderDrops(files, dir.path, endpoint), undefined);
  recordSenderDrops(files, dir.path, endpoint, { http_400: 1 }, 2_000);
  assert.deepEqual(JSON.parse(readFileSync(target, "utf8")).dropped, { http_400: 9 }, "the link's target untouched");
  assert.deepEqual(senderDrops(files, dir.path, endpoint)?.dropped, { http_400: 1 });
  execFileSync("rm", [path]);
  execFileSync("mkfifo", [path]);
  assert.equal(senderDrops(files, dir.path, endpoint), undefined, "read without blocking");
  recordSenderDrops(files, dir.path, endpoint, { http_400: 1 }, 3_000);
  assert.deepEqual(senderDrops(files, dir.path, endpoint)?.dropped, { http_400: 1 });
});

test("a record others may write is not trusted; one that cannot be written leaves the sender's counts with it", {
  skip: process.platform === "win32" && "no permission bits",
}, () => {
  using dir = tempDir();
  const path = `${dir.path}/${name}`;
  writeFileSync(path, JSON.stringify({ since: 1, last: 1, dropped: { http_400: 1 } }));
  chmodSync(path, 0o666);
  assert.equal(senderDrops(files, dir.path, endpoint), undefined, "writable by others");
  const missing = `${dir.path}/gone`;
  recordSenderDrops(files, missing, endpoint, { http_400: 1 }, 1_000); // never throws
  assert.equal(existsSync(missing), false, "no directory made for it");
});
