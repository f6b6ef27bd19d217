import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import process from "node:process";
import { stamp } from "../src/atomic.ts";
import { shortHash } from "../src/hash.ts";
import { host } from "../src/runtime/mod.ts";
import { dropsRecord, dropsRecords, recordDrops } from "../src/drops_record.ts";
import { fixturePath, runChild, runtimeCommand, startChild } from "./helpers/child.ts";
import { tempDir } from "./helpers/spool_dir.ts";

const files = host().files!;
const endpoint = "https://telemetry.example/v1.1/events/json";
const key = "0a1b2c3d";
const name = `drops-${key}.json`;

test("what runs drop adds up per spool key and reason, from the first drop to the last, with the endpoint", () => {
  using dir = tempDir();
  assert.equal(dropsRecord(files, dir.path, key), undefined);
  recordDrops(files, dir.path, key, endpoint, { http_400: 2, retries_exhausted: 0 }, 1_000);
  recordDrops(files, dir.path, key, endpoint, { http_400: 1, spool_full: 3 }, 5_000);
  recordDrops(files, dir.path, key, endpoint, {}, 9_000);
  const endpointHash = shortHash(endpoint);
  const expected = { since: 1_000, last: 5_000, dropped: { http_400: 3, spool_full: 3 }, endpointHash, endpoint };
  assert.deepEqual(dropsRecord(files, dir.path, key), expected);
  assert.equal(dropsRecord(files, dir.path, "ffffffff"), undefined, "keys do not share it");
  assert.deepEqual(readdirSync(dir.path), [name], "one file, no temporary left");
  assert.deepEqual(dropsRecords(files, dir.path), [{ key, ...expected }]);
  assert.equal(dropsRecord(files, dir.path, key, 5_001), undefined, "older than what is kept: history");
  recordDrops(files, dir.path, key, endpoint, { http_413: 1 }, 9_000, 5_001);
  assert.deepEqual(dropsRecord(files, dir.path, key, 5_001)?.dropped, { http_413: 1 }, "what is kept: from then on");
});

test("a record's lines are summed into one past its size; the counts stay whole, what is history goes", () => {
  using dir = tempDir();
  for (let i = 0; i < 400; i++) recordDrops(files, dir.path, key, endpoint, { http_400: 1 }, 1_000 + i);
  const lines = () => readFileSync(`${dir.path}/${name}`, "utf8").split("\n").filter(Boolean).length;
  assert.ok(lines() < 200, `${lines()} lines`);
  assert.deepEqual(dropsRecord(files, dir.path, key), {
    since: 1_000,
    last: 1_399,
    dropped: { http_400: 400 },
    endpointHash: shortHash(endpoint),
    endpoint,
  });
  // Summed again once older than what is kept: those lines are left out.
  for (let i = 0; i < 400; i++) recordDrops(files, dir.path, key, endpoint, { http_413: 1 }, 9_000 + i, 5_000);
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { http_413: 400 });
});

test("drops dated ahead (a run whose clock was set ahead) are read as now, and age out as others do", () => {
  using dir = tempDir();
  const now = Date.now();
  const ahead = now + 400 * 86_400_000;
  const line = `${JSON.stringify({ since: ahead, last: ahead, dropped: { http_400: 1 } })}\n`;
  writeFileSync(`${dir.path}/${name}`, line.repeat(300), { mode: 0o600 });
  const read = dropsRecord(files, dir.path, key);
  assert.ok(read && read.since <= Date.now() && read.last <= Date.now(), JSON.stringify(read));
  recordDrops(files, dir.path, key, endpoint, { http_400: 1 }, now); // summed: written as now
  assert.equal(dropsRecord(files, dir.path, key)?.dropped.http_400, 301);
  assert.equal(dropsRecord(files, dir.path, key, now + 1), undefined, "history once older than what is kept");
});

test("drops dated ahead by a run's own clock (the system's right) age from when the record was written", () => {
  using dir = tempDir();
  const now = Date.now();
  const ahead = now + 730 * 86_400_000;
  writeFileSync(`${dir.path}/${name}`, `${JSON.stringify({ since: ahead, last: ahead, dropped: { http_400: 1 } })}\n`, {
    mode: 0o600,
  });
  const weekAgo = now - 7 * 86_400_000;
  assert.deepEqual(dropsRecord(files, dir.path, key, weekAgo)?.dropped, { http_400: 1 }, "written just now: shown");
  const written = new Date(now - 30 * 86_400_000);
  utimesSync(`${dir.path}/${name}`, written, written);
  assert.equal(dropsRecord(files, dir.path, key, weekAgo), undefined, "written a month ago: history");
  // The machine's own clock ahead (NTP set it back since): the record's change is dated ahead too.
  utimesSync(`${dir.path}/${name}`, new Date(ahead), new Date(ahead));
  assert.equal(dropsRecord(files, dir.path, key, weekAgo), undefined, "two years ahead: no time can be told");
  const dayAhead = now + 86_400_000;
  writeFileSync(
    `${dir.path}/${name}`,
    `${JSON.stringify({ since: dayAhead, last: dayAhead, dropped: { http_400: 1 } })}\n`,
  );
  utimesSync(`${dir.path}/${name}`, new Date(dayAhead), new Date(dayAhead));
  assert.deepEqual(dropsRecord(files, dir.path, key, weekAgo)?.dropped, { http_400: 1 }, "a day ahead: as now");
});

test("runs ending at the same instant each keep their drops: none is written over by another's", async () => {
  using dir = tempDir();
  const runs = Array.from({ length: 8 }, () => startChild("record_drops_child.ts", { args: [dir.path, key, "5"] }));
  for (const run of runs) assert.equal((await run.result).code, 0);
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { http_400: 40 });
});

test("a record set aside to be summed: what runs append to it after is summed once it is quiet, once", () => {
  using dir = tempDir();
  const now = Date.now();
  const line = (dropped: Record<string, number>) => `${JSON.stringify({ since: now, last: now, dropped })}\n`;
  // Marked with how much is summed, or not yet (a run has just set it aside).
  const aside = (time: number, summed?: number) =>
    `drops-${key}-${stamp(time)}-c0de${summed === undefined ? "" : `-${summed}`}.aside`;
  const set = (name: string, text: string) => writeFileSync(`${dir.path}/${name}`, text, { mode: 0o600 });
  const summed = line({ http_400: 1000 });
  // Summed up to its mark, then two lines appended (quiet now); a run died summing another (quiet, not marked);
  // a run is summing a third (not quiet, not marked: its lines are in the record in a moment); a fourth was summed
  // a moment ago, and a run appended a line just after.
  set(aside(now - 120_000, summed.length), summed + line({ http_400: 3 }).repeat(2));
  set(aside(now - 120_000), line({ http_400: 7 }).repeat(2));
  const live = aside(now);
  set(live, summed);
  const recent = aside(now, summed.length);
  set(recent, summed + line({ http_400: 5 }));
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { http_400: 25 });
  assert.deepEqual(dropsRecords(files, dir.path).map(({ key }) => key), [key], "a key with no record but those");
  set(name, line({ spool_full: 1 }).repeat(300));
  recordDrops(files, dir.path, key, endpoint, { http_413: 1 }, now);
  const expected = { http_400: 25, spool_full: 300, http_413: 1 };
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, expected);
  const left = readdirSync(dir.path).sort();
  assert.deepEqual(left.filter((file) => file.endsWith(".aside")).length, 3, `the quiet ones taken in: ${left}`);
  assert.ok(left.includes(live) && left.includes(recent), "the others left to quiet down");
  recordDrops(files, dir.path, key, endpoint, { http_413: 1 }, now);
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { ...expected, http_413: 2 }, "once");
  // The record just set aside, written to after its mark: read now, summed once it is quiet, as the others.
  const mine = left.find((file) => file.endsWith(".aside") && !file.includes("-c0de"))!;
  writeFileSync(`${dir.path}/${mine}`, line({ http_400: 2 }), { flag: "a" });
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { ...expected, http_413: 2, http_400: 27 });
  writeFileSync(`${dir.path}/${name}`, line({ spool_full: 1 }).repeat(300), { flag: "a" });
  recordDrops(files, dir.path, key, endpoint, { http_413: 1 }, now + 61_000);
  const after = { http_400: 20 + 1000 + 5 + 2, spool_full: 600, http_413: 3 };
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, after, "the one a run died summing counts once quiet");
  assert.equal(readdirSync(dir.path).filter((file) => file.endsWith(".aside")).length, 1, "this run's");
});

test("a run that adds its line takes in what is set aside and quiet, so that none is left for good", () => {
  using dir = tempDir();
  const time = Date.now() - 120_000;
  const line = `${JSON.stringify({ since: time, last: time, dropped: { spool_full: 1 } })}\n`;
  writeFileSync(`${dir.path}/drops-${key}-${stamp(time)}-c0de-${line.length}.aside`, line.repeat(3), { mode: 0o600 });
  recordDrops(files, dir.path, key, endpoint, { http_400: 1 }, time + 120_000);
  assert.deepEqual(readdirSync(dir.path), [name]);
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { spool_full: 2, http_400: 1 });
  assert.equal(readFileSync(`${dir.path}/${name}`, "utf8").split("\n").length, 2, "one line");
});

test("a run stopped past a minute as it sums, while another takes its part over as quiet, counts it once", () => {
  using dir = tempDir();
  const now = Date.now();
  const line = `${JSON.stringify({ since: now, last: now, dropped: { spool_full: 1 } })}\n`;
  writeFileSync(`${dir.path}/${name}`, line.repeat(300), { mode: 0o600 });
  let meanwhile = false;
  const stopped: typeof files = {
    ...files,
    rename(from, to) {
      // Just as it marks what it read as summed: a run a minute later finds the part quiet, and takes it.
      const marked = (path: string) => path.slice(path.lastIndexOf("/") + 1).split("-").length === 5;
      if (!meanwhile && from.endsWith(".aside") && !marked(from) && marked(to)) {
        meanwhile = true;
        recordDrops(files, dir.path, key, endpoint, { http_413: 1 }, now + 61_000);
      }
      files.rename(from, to);
    },
  };
  recordDrops(stopped, dir.path, key, endpoint, { http_400: 1 }, now);
  assert.ok(meanwhile);
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { spool_full: 300, http_413: 1, http_400: 1 });
});

test("what a run took to sum, where it cannot write the sum (a full disk), goes back for a later run to sum", () => {
  using dir = tempDir();
  const now = Date.now();
  const line = `${JSON.stringify({ since: now, last: now, dropped: { spool_full: 1 } })}\n`;
  writeFileSync(`${dir.path}/drops-${key}-${stamp(now - 120_000)}-c0de-0.aside`, line.repeat(5), { mode: 0o600 });
  const full: typeof files = {
    ...files,
    append() {
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    },
  };
  recordDrops(full, dir.path, key, endpoint, { http_400: 1 }, now); // its own line goes with it
  writeFileSync(`${dir.path}/${name}`, line.repeat(300), { mode: 0o600 });
  recordDrops(full, dir.path, key, endpoint, { http_400: 1 }, now); // the record set aside, to sum: given back too
  recordDrops(files, dir.path, key, endpoint, { http_413: 1 }, now + 61_000);
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { spool_full: 305, http_413: 1 });
});

test("a part is dated as it is set aside: a run stopped a minute before does not name one quiet at once", () => {
  using dir = tempDir();
  const line = `${JSON.stringify({ since: 1, last: 1, dropped: { spool_full: 1 } })}\n`;
  writeFileSync(`${dir.path}/${name}`, line.repeat(400), { mode: 0o600 }); // past 16 KB: the next sums it
  recordDrops(files, dir.path, key, endpoint, { http_400: 1 }, Date.now() - 65_000); // its time read a minute ago
  const [part] = readdirSync(dir.path).filter((file) => file.endsWith(".aside"));
  const time = Number(/-(\d{13})-/.exec(part)?.[1]);
  assert.ok(Math.abs(Date.now() - time) < 10_000, part);
});

test("what is named like a set-aside part but is no file is never taken, and keeps no part from being removed", () => {
  using dir = tempDir();
  const old = stamp(Date.now() - 120_000);
  const line = `${JSON.stringify({ since: 1, last: 1, dropped: { spool_full: 5 } })}\n`;
  mkdirSync(`${dir.path}/drops-${key}-${old}-0000-0.aside`);
  writeFileSync(`${dir.path}/drops-${key}-${old}-0000-0.aside/inside`, ""); // not empty: no runtime removes it
  writeFileSync(`${dir.path}/drops-${key}-${old}-ffff-0.aside`, line, { mode: 0o600 });
  for (let i = 0; i < 2; i++) recordDrops(files, dir.path, key, endpoint, { http_400: 1 }, Date.now());
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { spool_full: 5, http_400: 2 });
  assert.deepEqual(readdirSync(dir.path).sort(), [`drops-${key}-${old}-0000-0.aside`, name]);
});

test("runs summing at the same instant lose nothing of the record, and take what is quiet once", async () => {
  using dir = tempDir();
  const time = Date.now();
  const line = `${JSON.stringify({ since: time, last: time, dropped: { spool_full: 1 } })}\n`;
  writeFileSync(`${dir.path}/drops-${key}-${stamp(time - 120_000)}-0a1b-0.aside`, line.repeat(50), { mode: 0o600 });
  writeFileSync(`${dir.path}/${name}`, line.repeat(270), { mode: 0o600 });
  const runs = Array.from({ length: 8 }, () => startChild("record_drops_child.ts", { args: [dir.path, key, "60"] }));
  for (const run of runs) assert.equal((await run.result).code, 0);
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { spool_full: 320, http_400: 480 });
});

test(
  "an append past the file size limit (ulimit -f) is refused, not the end of the run: Deno does not ignore SIGXFSZ",
  {
    skip: process.platform !== "linux" && "ulimit -f, as Linux reads it",
  },
  async () => {
    using dir = tempDir();
    const time = Date.now();
    const line = `${JSON.stringify({ since: time, last: time, dropped: { spool_full: 1 } })}\n`;
    writeFileSync(`${dir.path}/${name}`, line.repeat(Math.floor(1000 / line.length)), { mode: 0o600 });
    const flags = ["-A", "--no-code-cache"]; // Deno's own cache writes would pass the limit too: cached first, none kept
    await runChild("record_drops_child.ts", { args: [`${dir.path}/elsewhere`, key, "1"], denoFlags: flags });
    const program = runtimeCommand(fixturePath("record_drops_child.ts"), flags);
    const run = await runChild("record_drops_child.ts", {
      executable: "/bin/sh",
      args: ["-c", `ulimit -f 1 && exec "$@"`, "sh", ...program, dir.path, key, "3"],
    });
    assert.deepEqual([run.code, run.signal], [0, null], run.stderr);
    assert.ok(statSync(`${dir.path}/${name}`).size <= 1024, "nothing written past the limit");
    assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { spool_full: Math.floor(1000 / line.length) });
  },
);

test("a URL whose printing masks part of it (credentials, a query) is not written; the counts are", () => {
  using dir = tempDir();
  const masked = "https://user:secret@telemetry.example/v1?token=t";
  recordDrops(files, dir.path, key, masked, { http_401: 1 }, 1_000);
  assert.doesNotMatch(readFileSync(`${dir.path}/${name}`, "utf8"), /secret|token/);
  assert.deepEqual(dropsRecord(files, dir.path, key), {
    since: 1_000,
    last: 1_000,
    dropped: { http_401: 1 },
    endpointHash: shortHash(masked),
  });
});

test("a record that is not ours (corrupt, huge, odd reasons, times no timestamp shows) reads as none, and starts again", () => {
  using dir = tempDir();
  const path = `${dir.path}/${name}`;
  for (
    const text of [
      "{",
      JSON.stringify({ since: 1, last: 2, dropped: { "http_400\u001b[31m": 1 } }),
      JSON.stringify({ since: 1, last: 2, dropped: { http_400: -1 } }),
      JSON.stringify({ since: 3, last: 2, dropped: { http_400: 1 } }),
      JSON.stringify({ since: 1, last: Number.MAX_SAFE_INTEGER, dropped: { http_400: 1 } }),
      JSON.stringify({ since: -5, last: 2, dropped: { http_400: 1 } }),
      JSON.stringify({ since: 1, last: 2, dropped: { http_400: 1 }, pad: "x".repeat(40_000) }),
    ]
  ) {
    writeFileSync(path, text, { mode: 0o600 });
    assert.equal(dropsRecord(files, dir.path, key), undefined, text.slice(0, 60));
    assert.deepEqual(dropsRecords(files, dir.path), []);
  }
  recordDrops(files, dir.path, key, endpoint, { http_413: 1 }, 7_000);
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { http_413: 1 });
});

test("a line cut short is skipped, an earlier version's record (no line's end) read; the next goes on a line of its own", () => {
  using dir = tempDir();
  const path = `${dir.path}/${name}`;
  const record = (since: number, http_400: number) => JSON.stringify({ since, last: since, dropped: { http_400 } });
  for (
    const [text, before] of [
      [`${record(1_000, 2)}\n${record(2_000, 5).slice(0, 20)}`, 2], // a crash cut the second line short
      [record(1_000, 3), 3], // as earlier versions wrote it
      ["", undefined], // made by a run that has not written yet
    ] as const
  ) {
    writeFileSync(path, text, { mode: 0o600 });
    assert.equal(dropsRecord(files, dir.path, key)?.dropped.http_400, before, JSON.stringify(text));
    recordDrops(files, dir.path, key, endpoint, { http_400: 1 }, 3_000);
    assert.equal(dropsRecord(files, dir.path, key)?.dropped.http_400, (before ?? 0) + 1, JSON.stringify(text));
  }
});

test("a link or a FIFO in the record's place is never followed or read, and is replaced, not written through", {
  skip: process.platform === "win32" && "no FIFOs",
}, () => {
  using dir = tempDir();
  const path = `${dir.path}/${name}`;
  const target = `${dir.path}/elsewhere.json`;
  writeFileSync(target, JSON.stringify({ since: 1, last: 1, dropped: { http_400: 9 } }), { mode: 0o600 });
  symlinkSync(target, path);
  assert.equal(dropsRecord(files, dir.path, key), undefined);
  recordDrops(files, dir.path, key, endpoint, { http_400: 1 }, 2_000);
  assert.deepEqual(JSON.parse(readFileSync(target, "utf8")).dropped, { http_400: 9 }, "the link's target untouched");
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { http_400: 1 });
  execFileSync("rm", [path]);
  execFileSync("mkfifo", [path]);
  assert.equal(dropsRecord(files, dir.path, key), undefined, "read without blocking");
  recordDrops(files, dir.path, key, endpoint, { http_400: 1 }, 3_000);
  assert.deepEqual(dropsRecord(files, dir.path, key)?.dropped, { http_400: 1 });
});

test("a record others may write is not trusted; one that cannot be written leaves the sender's counts with it", {
  skip: process.platform === "win32" && "no permission bits",
}, () => {
  using dir = tempDir();
  const path = `${dir.path}/${name}`;
  writeFileSync(path, JSON.stringify({ since: 1, last: 1, dropped: { http_400: 1 } }));
  chmodSync(path, 0o666);
  assert.equal(dropsRecord(files, dir.path, key), undefined, "writable by others");
  const missing = `${dir.path}/gone`;
  recordDrops(files, missing, key, endpoint, { http_400: 1 }, 1_000); // never throws
  assert.equal(existsSync(missing), false, "no directory made for it");
});
