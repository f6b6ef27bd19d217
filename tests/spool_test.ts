import { test } from "node:test";
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import process from "node:process";
import { below, dirAndName, guardedFiles, parentOf, withoutTrailingSeparators } from "../src/runtime/guarded_files.ts";
import type { HostFiles } from "../src/runtime/host.ts";
import { nodeFiles } from "../src/runtime/node_files.ts";
import { host } from "../src/runtime/mod.ts";
import { nodeHost } from "../src/runtime/node.ts";
import { FILES_PER_CALL, Spool, type SpooledEvent, spoolKey, spoolLeavesOut } from "../src/spool.ts";
import { runChild } from "./helpers/child.ts";
import { processWith } from "./helpers/node_process.ts";
import { files, spooled, tempDir } from "./helpers/spool_dir.ts";

/** The lease of the claims below: an hour. */
const LEASE_MS = 3_600_000;

const limits = { maxEvents: 1000, maxBytes: 1_048_576, maxAgeMs: 7 * 86_400_000 };
const now = Date.parse("2026-11-28T12:00:00Z");
const fs = host().files!;

function event(command: string, retries = 0, timestamp = now - 1000): SpooledEvent {
  const json = JSON.stringify({
    ts: new Date(timestamp).toISOString(),
    parameters: { command },
    name: "nat_cli_command",
  });
  return { json, schemaVersion: "1.5", sessionId: "session", retries, timestamp };
}

const KEY = spoolKey("https://example.com/events");

function open(dir: string, custom = limits, key = KEY): Spool {
  const spool = Spool.open(dir, fs, custom, key);
  assert.ok(spool, "the spool opens");
  return spool;
}

test("in a path from the root, a backslash is a character of a name (Linux allows it); elsewhere a separator", () => {
  assert.equal(parentOf("/srv/ver\\2/spool"), "/srv/ver\\2");
  assert.equal(parentOf("/srv/ver\\2"), "/srv");
  assert.equal(parentOf("/srv/ver\\"), "/srv", "a name that ends with one");
  assert.equal(below("/srv/ver\\", "spool"), "/srv/ver\\/spool");
  assert.equal(below("/srv/", "spool"), "/srv/spool");
  assert.equal(parentOf("C:\\Users\\ada"), "C:\\Users");
  assert.equal(parentOf("C:\\Users"), "C:\\");
  assert.equal(below("C:\\Users\\", "x"), "C:\\Users/x");
  assert.deepEqual(dirAndName("/srv/ver\\2"), { dir: "/srv", name: "ver\\2" });
  assert.deepEqual(dirAndName("/srv/ver\\"), { dir: "/srv", name: "ver\\" }, "a name that ends with one");
  assert.equal(dirAndName("/srv/ver/"), undefined, "a directory written with its separator");
  assert.deepEqual(dirAndName("//x.toml"), { dir: "/", name: "x.toml" }, "below the root, as its parent is");
  assert.deepEqual(dirAndName("\\x.toml"), { dir: "\\", name: "x.toml" }, "below a drive's root (Windows)");
  assert.deepEqual(dirAndName("C:\\Users\\x"), { dir: "C:\\Users", name: "x" });
  assert.equal(dirAndName("C:\\Users\\"), undefined);
  assert.equal(dirAndName("x.toml"), undefined, "a bare name: no directory to be in");
  assert.equal(withoutTrailingSeparators("/srv/ver\\"), "/srv/ver\\");
  assert.equal(withoutTrailingSeparators("/srv/ver//"), "/srv/ver");
  assert.equal(withoutTrailingSeparators("//"), "//", "a root stays one");
  assert.equal(withoutTrailingSeparators("C:\\"), "C:\\");
  assert.equal(withoutTrailingSeparators("C:\\Users\\/"), "C:\\Users");
  if (process.platform === "win32") return;
  using dir = tempDir();
  const spoolDir = `${dir.path}/ver\\2/spool`;
  assert.ok(fs.ensureDir(spoolDir, true));
  assert.deepEqual(nodeFs.readdirSync(dir.path), ["ver\\2"], "no directory named ver made beside it");
  assert.equal(fs.checkPlace(spoolDir), true, "who may change the directories above it is told");
});

test("spooled events come back unchanged: wire JSON, original timestamp, retry count, schema", () => {
  using dir = tempDir();
  const written = [event("a", 0), event("b", 2, now - 5000)];
  assert.deepEqual(open(dir.path).write(written, now), { written: {}, older: {} });
  const { events, dropped } = open(dir.path).claim(100, now, LEASE_MS);
  assert.deepEqual(dropped, {});
  assert.deepEqual(events.map(({ claim: _, ...rest }) => rest), written);
});

test("adopt moves another spool's files of this endpoint here, not those another run holds nor those just written; each event once", () => {
  using dir = tempDir();
  const other = spoolKey("https://other.example/events");
  const waited = now - 120_000; // written there minutes ago
  open(`${dir.path}/fallback`).write([event("a"), event("b", 1, now - 5000)], waited);
  open(`${dir.path}/fallback`, limits, other).write([event("c")], waited); // another endpoint's: its runs' to move
  open(`${dir.path}/fallback`).write([event("held")], waited - 10_000); // the oldest file: claimed first
  // Just handed off by a run that still keeps that spool (another HOME, none): its sender is starting there.
  open(`${dir.path}/fallback`).write([event("young")], now - 1_000);
  const held = open(`${dir.path}/fallback`).claim(1, now, LEASE_MS); // another run at work on it
  assert.deepEqual(held.events.map((e) => JSON.parse(e.json).parameters.command), ["held"]);
  const here = open(`${dir.path}/spool`);
  const moved = here.adopt(open(`${dir.path}/fallback`), now);
  assert.equal(moved, 2);
  assert.equal(here.adopt(open(`${dir.path}/fallback`), now), 0, "a second look finds nothing more");
  const claimed = (key: string) =>
    open(`${dir.path}/spool`, limits, key).claim(100, now, LEASE_MS).events.map(({ claim: _, ...rest }) => rest);
  const ours = claimed(KEY);
  assert.deepEqual(ours.map((e) => JSON.parse(e.json).parameters.command).sort(), ["a", "b"]);
  assert.deepEqual(claimed(other), [], "another endpoint's left where its runs look");
  assert.ok(ours.some((e) => e.retries === 1 && e.timestamp === now - 5000), "retries and time kept");
  assert.equal(
    files(`${dir.path}/fallback`).length,
    3,
    "the held file stays with its run, the young one for its sender, the other endpoint's for its runs",
  );
});

test("the spool directory is owner-only (0700) and its files 0600; no temporary file is left", () => {
  using dir = tempDir();
  const path = `${dir.path}/nested/spool`;
  open(path).write([event("a")], now);
  assert.equal(statSync(path).mode & 0o777, 0o700);
  const names = files(path);
  assert.equal(names.length, 1);
  assert.match(names[0], new RegExp(`^e-\\d{13}-1-\\d+-${KEY}-[0-9a-f]{12}\\.jsonl$`));
  assert.equal(statSync(`${path}/${names[0]}`).mode & 0o777, 0o600);
});

test("a claim is exclusive: a second claimer gets nothing; release deletes the claimed file", () => {
  using dir = tempDir();
  open(dir.path).write([event("a"), event("b")], now);
  const first = open(dir.path).claim(100, now, LEASE_MS);
  const second = open(dir.path).claim(100, now, LEASE_MS);
  assert.equal(first.events.length, 2);
  assert.equal(second.events.length, 0);
  assert.match(files(dir.path)[0], /^l-\d{13}-e-/);
  open(dir.path).release(first.events[0].claim);
  assert.deepEqual(files(dir.path), []);
});

test("claims take files oldest first up to the room; the rest of a split file goes back, first in line", () => {
  using dir = tempDir();
  const spool = open(dir.path);
  spool.write([event("old1"), event("old2")], now - 2000);
  spool.write([event("mid1"), event("mid2")], now - 1000);
  spool.write([event("new")], now);
  const first = spool.claim(3, now, LEASE_MS);
  assert.deepEqual(first.events.map((e) => JSON.parse(e.json).parameters.command), ["old1", "old2", "mid1"]);
  const second = spool.claim(100, now, LEASE_MS);
  assert.deepEqual(second.events.map((e) => JSON.parse(e.json).parameters.command), ["mid2", "new"]);
});

test("a file too large for the room, whose rest cannot be written back (a full disk), goes back whole, untaken", () => {
  using dir = tempDir();
  const spool = open(dir.path);
  spool.write([event("one"), event("two"), event("three")], now - 1000);
  const [name] = files(dir.path);
  const create = fs.create;
  fs.create = () => {
    throw Object.assign(new Error("ENOSPC: no space left on device, open"), { code: "ENOSPC" });
  };
  try {
    assert.deepEqual(spool.claim(2, now, LEASE_MS), { events: [], dropped: {} });
  } finally {
    fs.create = create;
  }
  assert.deepEqual(files(dir.path), [name], "unclaimed, as it was");
  const later = spool.claim(2, now, LEASE_MS);
  assert.deepEqual(later.events.map((e) => JSON.parse(e.json).parameters.command), ["one", "two"]);
  assert.equal(spool.claim(100, now, LEASE_MS).events.length, 1, "the third, in the rest written back");
});

test("a corrupt file is skipped, counted and removed; the other files are still read", () => {
  using dir = tempDir();
  const spool = open(dir.path);
  spool.write([event("good")], now);
  writeFileSync(`${dir.path}/e-${now - 10}-3-500-${KEY}-00000000dead.jsonl`, "\u0000garbage{{{\n[1,2]\n");
  writeFileSync(`${dir.path}/notes.txt`, "not ours");
  const { events, dropped } = spool.claim(100, now, LEASE_MS);
  assert.deepEqual(events.map((e) => JSON.parse(e.json).parameters.command), ["good"]);
  assert.deepEqual(dropped, { spool_corrupt: 2 }, "the two bad lines it holds, not the three its name promised");
  assert.deepEqual(files(dir.path).filter((name) => name !== "notes.txt").length, 1, "only the good claim is left");
});

test("a torn line loses only itself", () => {
  using dir = tempDir();
  const spool = open(dir.path);
  spool.write([event("a"), event("b")], now);
  const [name] = files(dir.path);
  writeFileSync(`${dir.path}/${name}`, spooled(dir.path).map((line) => JSON.stringify(line)).join("\n").slice(0, -10));
  const { events, dropped } = spool.claim(100, now, LEASE_MS);
  assert.equal(events.length, 1);
  assert.deepEqual(dropped, { spool_corrupt: 1 });
});

test("the spool keeps at most maxEvents: the oldest events go first, counted as spool_full", () => {
  using dir = tempDir();
  const spool = open(dir.path, { ...limits, maxEvents: 5 });
  spool.write([event("1"), event("2")], now - 3000);
  spool.write([event("3"), event("4")], now - 2000);
  assert.deepEqual(spool.write([event("5"), event("6")], now), { written: {}, older: { spool_full: 1 } });
  assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["2", "3", "4", "5", "6"]);
  assert.deepEqual(
    spool.write([1, 2, 3, 4, 5, 6, 7].map((i) => event(`n${i}`)), now + 1),
    { written: { spool_full: 2 }, older: { spool_full: 5 } },
    "the two oldest of the events written, and the five of older files, each said apart",
  );
  assert.equal(spooled(dir.path).length, 5, "a write larger than the spool keeps its newest events");
});

test("a write of more events than maxEvents keeps the newest maxEvents where they fit in maxBytes, whatever the rest weighs", () => {
  using dir = tempDir();
  using probe = tempDir();
  open(probe.path).write([event("n00")], now);
  const lineBytes = statSync(`${probe.path}/${files(probe.path)[0]}`).size + 1;
  // Five lines fit; twenty do not, by far: the fifteen cut for the bound on events must not count against the bytes.
  const spool = open(dir.path, { ...limits, maxEvents: 5, maxBytes: 5 * lineBytes + 10 });
  const events = Array.from({ length: 20 }, (_, i) => event(`n${String(i).padStart(2, "0")}`));
  assert.deepEqual(spool.write(events, now), { written: { spool_full: 15 }, older: {} });
  assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["n15", "n16", "n17", "n18", "n19"]);
});

test("one event over the bound cuts the oldest event of a long-lived program's file, not its thousand", () => {
  using dir = tempDir();
  const spool = open(dir.path, { ...limits, maxEvents: 100 });
  const other = open(dir.path, { ...limits, maxEvents: 100 });
  // One session's 99 events, one file, spooled by a long-lived program of the same endpoint as it stopped.
  other.write(Array.from({ length: 99 }, (_, i) => event(`long${String(i).padStart(2, "0")}`)), now - 5000);
  const [long] = files(dir.path);
  assert.deepEqual(spool.write([event("run1")], now - 10), { written: {}, older: {} });
  assert.deepEqual(spool.write([event("run2"), event("run3")], now), { written: {}, older: { spool_full: 2 } });
  const left = spooled(dir.path).map((line) => line.event.parameters.command);
  assert.equal(left.length, 100);
  assert.deepEqual(left.slice(0, 2), ["long02", "long03"], "the two oldest went, and the rest keeps its place in line");
  const cut = files(dir.path).find((name) => name !== long && name.startsWith(long.slice(0, 16)));
  assert.match(cut ?? "", new RegExp(`^e-${now - 5000}-97-\\d+-${KEY}-`));
  assert.equal(other.claim(1000, now, LEASE_MS).events.length, 100, "still its endpoint's, with the runs' events");
});

test("a program with small bounds or a short age keeps them with its own events: another endpoint's keep the defaults", () => {
  using dir = tempDir();
  const otherKey = spoolKey("https://other.example/v1");
  open(dir.path, limits, otherKey).write([event("o1"), event("o2"), event("o3")], now - 86_400_000);
  const small = open(dir.path, { ...limits, maxEvents: 2, maxAgeMs: 1000 });
  small.write([event("a1"), event("a2")], now - 10);
  assert.deepEqual(small.write([event("a3")], now), { written: {}, older: { spool_full: 1 } });
  const waiting = (key: string) => small.entries().filter((entry) => entry.key === key);
  assert.equal(waiting(otherKey).length, 1, "a day old, and more events than its bound: still there");
  // Past the default age (7 days), another endpoint's events expire, as their own runs would drop them.
  assert.deepEqual(small.write([event("a4")], now + 7 * 86_400_000), {
    written: {},
    older: { spool_expired: 5 },
  });
  assert.deepEqual(waiting(otherKey), []);
});

test("a program with a small byte bound cuts another endpoint's larger file as the whole needs, not drops it whole", () => {
  using dir = tempDir();
  const otherKey = spoolKey("https://other.example/v1");
  const others = Array.from({ length: 995 }, (_, i) => event(`o${i}`));
  open(dir.path, limits, otherKey).write(others, now - 5000); // one file, far over the small bound below
  const small = open(dir.path, { ...limits, maxBytes: 10_000 });
  const ours = Array.from({ length: 10 }, (_, i) => event(`a${i}`));
  // Over the whole's 1,000 events by five: the other endpoint's oldest five go, read though over this bound.
  assert.deepEqual(small.write(ours, now), { written: {}, older: { spool_full: 5 } });
  assert.equal(open(dir.path, limits, otherKey).claim(1000, now, LEASE_MS).events.length, 990);
});

test("many endpoints of one event each (a program whose headers change every run): the oldest go, whichever endpoint's", () => {
  using dir = tempDir();
  const line = JSON.stringify(spoolLine("x"));
  for (let i = 0; i < 1002; i++) {
    const key = spoolKey(`https://example.com/v1?run=${i}`);
    const name = `e-${now - 10_000 + i}-1-${line.length + 1}-${key}-${String(i).padStart(12, "0")}.jsonl`;
    writeFileSync(`${dir.path}/${name}`, `${line}\n`);
  }
  // Another endpoint's few, newer: none of those endpoints holds more than any other, and its events are not first.
  const otherKey = spoolKey("https://other.example/v1");
  open(dir.path, limits, otherKey).write([event("o1"), event("o2"), event("o3")], now - 5);
  // Over by five as the other endpoint's three were written, by one as this run's: the oldest six went.
  assert.deepEqual(open(dir.path, limits).write([event("run")], now), { written: {}, older: { spool_full: 1 } });
  assert.equal(files(dir.path).filter((name) => name.endsWith(".jsonl")).length, 998);
  assert.equal(open(dir.path, limits, otherKey).claim(10, now, LEASE_MS).events.length, 3);
});

test("an older version's file, without an endpoint's key, is cut as it was: still no run's to claim", () => {
  using dir = tempDir();
  const spool = open(dir.path, { ...limits, maxEvents: 3 });
  const lines = ["o1", "o2", "o3"].map((name) => JSON.stringify(spoolLine(name))).join("\n");
  writeFileSync(`${dir.path}/e-${now - 5000}-3-${lines.length + 1}-00000000000a.jsonl`, `${lines}\n`);
  assert.deepEqual(spool.write([event("new")], now), { written: {}, older: { spool_full: 1 } });
  assert.match(
    files(dir.path).join(" "),
    new RegExp(`^e-${now - 5000}-2-\\d+-[0-9a-f]{12}\\.jsonl `),
    "no key given it",
  );
  assert.deepEqual(spool.claim(100, now, LEASE_MS).events.map((e) => JSON.parse(e.json).parameters.command), [
    "new",
  ]);
});

test("a cut holds each event once at every step (a run killed at any of them sends nothing twice)", () => {
  using dir = tempDir();
  // What the directory holds before each change a run makes to it: what a run killed at that moment leaves.
  const states: string[][] = [];
  const look = () =>
    states.push(
      files(dir.path).filter((name) => /^[el]-/.test(name)).flatMap((name) =>
        readFileSync(`${dir.path}/${name}`, "utf8").split("\n").filter(Boolean).map((line) =>
          JSON.parse(line).event.parameters.command
        )
      ),
    );
  const watched = {
    ...fs,
    rename: (from: string, to: string) => (look(), fs.rename(from, to)),
    remove: (path: string) => (look(), fs.remove(path)),
  };
  open(dir.path).write(["a", "b", "c"].map((name) => event(name)), now - 5000);
  const spool = Spool.open(dir.path, watched, { ...limits, maxEvents: 3 }, KEY)!;
  assert.deepEqual(spool.write([event("d")], now), { written: {}, older: { spool_full: 1 } });
  look();
  assert.ok(states.length > 3, `${states.length} states`);
  for (const state of states) {
    assert.equal(new Set(state).size, state.length, `each event once: ${state}`);
    for (const kept of ["b", "c"]) assert.ok(state.includes(kept), `${kept} kept: ${state}`);
  }
  assert.deepEqual(states.at(-1), ["b", "c", "d"]);
});

test("a cut stopped for half its lease gives up: what it keeps never takes the claim's name again", () => {
  using dir = tempDir();
  open(dir.path).write(["a", "b", "c"].map((name) => event(name)), now - 5000);
  let creates = 0;
  const clock = host();
  const realClock = clock.monotonicMs;
  const stopped = {
    ...fs,
    create(path: string, text: string) {
      fs.create(path, text);
      // The second file, the cut's copy: the run is stopped there for 31 s (Ctrl-Z), and another took its claim over.
      if (++creates === 2) clock.monotonicMs = () => realClock() + 31_000;
    },
  };
  try {
    const spool = Spool.open(dir.path, stopped, { ...limits, maxEvents: 3 }, KEY)!;
    assert.deepEqual(spool.write([event("d")], now), { written: {}, older: {} }, "nothing counted");
  } finally {
    clock.monotonicMs = realClock;
  }
  assert.equal(creates, 2);
  assert.deepEqual(files(dir.path).filter((name) => !/^[el]-/.test(name)), [], "no temporary file left");
  const later = open(dir.path).claim(100, now + 61_000, LEASE_MS).events;
  assert.deepEqual(later.map((e) => JSON.parse(e.json).parameters.command), ["a", "b", "c", "d"], "the claim, whole");
});

test("a cut where no copy fits beside the whole (a nearly full disk) removes the whole first, and keeps the rest", () => {
  using dir = tempDir();
  let creates = 0;
  const nearlyFull = {
    ...fs,
    create(path: string, text: string) {
      if (++creates === 3) throw new Error("ENOSPC"); // the third file: the cut's copy, after the run's own
      fs.create(path, text);
    },
  };
  const spool = Spool.open(dir.path, nearlyFull, { ...limits, maxEvents: 3 }, KEY)!;
  spool.write(["a", "b", "c"].map((name) => event(name)), now - 5000);
  assert.deepEqual(spool.write([event("d")], now), { written: {}, older: { spool_full: 1 } });
  assert.equal(creates, 4, "the copy failed, and was written again once the whole was gone");
  assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["b", "c", "d"]);
});

test("a file another run pruned or claimed first is out of the count: no newer file goes in its place", () => {
  using dir = tempDir();
  // What a listing taken a moment earlier still names: the oldest file, of 3 events, gone since.
  const gone = `e-${now - 60_000}-3-300-${KEY}-0123456789ab.jsonl`;
  const staleListing = { ...fs, list: (path: string) => [...fs.list(path), gone] };
  const spool = Spool.open(dir.path, staleListing, { ...limits, maxEvents: 5 }, KEY)!;
  for (let i = 0; i < 5; i++) spool.write([event(`old${i}`)], now - 5_000 + i);
  assert.deepEqual(spool.write([event("new")], now), { written: {}, older: { spool_full: 1 } });
  assert.deepEqual(
    spooled(dir.path).map((line) => line.event.parameters.command),
    ["old1", "old2", "old3", "old4", "new"],
    "one file removed for the one event over the bound",
  );
});

test("two runs writing at once never remove the newer one's file to make room for their own: the older goes", () => {
  using dir = tempDir();
  const spool = open(dir.path, { ...limits, maxEvents: 5 });
  const commandsLeft = () => spooled(dir.path).map((line) => line.event.parameters.command);
  // A run whose file is the newer has written it and not pruned yet; one whose file is older prunes now.
  spool.write(["b1", "b2", "b3", "b4"].map((name) => event(name)), now + 1);
  assert.deepEqual(spool.write(["a1", "a2", "a3", "a4"].map((name) => event(name)), now), { written: {}, older: {} });
  assert.deepEqual(commandsLeft().sort(), ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"], "over the bound for now");
  // The newer run's pruning, or the next run's, takes the older file.
  assert.deepEqual(spool.write([event("c")], now + 2), { written: {}, older: { spool_full: 4 } });
  assert.deepEqual(commandsLeft().sort(), ["b1", "b2", "b3", "b4", "c"]);
});

test("a file stamped ahead of a run's own: kept if written alongside it, else (a clock that ran ahead) pruned", () => {
  using dir = tempDir();
  const spool = open(dir.path, { ...limits, maxEvents: 5 });
  // Another run, its clock two minutes ahead, writing at the same time: its file is the newer.
  spool.write(["b1", "b2", "b3", "b4"].map((name) => event(name)), now + 120_000);
  assert.deepEqual(spool.write(["a1", "a2", "a3", "a4"].map((name) => event(name)), now), { written: {}, older: {} });
  for (const name of files(dir.path)) nodeFs.rmSync(`${dir.path}/${name}`);
  // Written a day ago by a clock a day ahead of the time it was: the oldest in truth.
  spool.write(["ahead1", "ahead2", "ahead3", "ahead4"].map((name) => event(name)), now + 86_400_000);
  const dayAgo = new Date(Date.now() - 86_400_000);
  for (const name of files(dir.path)) nodeFs.utimesSync(`${dir.path}/${name}`, dayAgo, dayAgo);
  assert.deepEqual(spool.write(["a1", "a2", "a3", "a4"].map((name) => event(name)), now), {
    written: {},
    older: { spool_full: 3 },
  });
  assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["a1", "a2", "a3", "a4", "ahead4"]);
});

test("the spool keeps at most maxBytes", () => {
  using dir = tempDir();
  const spool = open(dir.path, { ...limits, maxBytes: 600 });
  for (let i = 0; i < 6; i++) spool.write([event(`e${i}`)], now + i);
  const total = files(dir.path).reduce((sum, name) => sum + statSync(`${dir.path}/${name}`).size, 0);
  assert.ok(total <= 600, `${total} bytes`);
  assert.ok(spooled(dir.path).length >= 3);
});

test("an event the bound cannot hold alone is dropped alone: the older ones that fit are kept", () => {
  using dir = tempDir();
  const spool = open(dir.path, { ...limits, maxBytes: 2000 });
  const events = ["a", "b", "c"].map((command) => event(command));
  assert.deepEqual(spool.write([...events, event("x".repeat(3000))], now), { written: { spool_full: 1 }, older: {} });
  assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["a", "b", "c"]);
  // So in a file a run cuts to keep the spool within its (smaller) bound: another program's, sharing the spool.
  using shared = tempDir();
  const events2 = Array.from({ length: 20 }, (_, i) => event(`e${i}`));
  open(shared.path).write([...events2, event("x".repeat(3000))], now - 10);
  open(shared.path, { ...limits, maxBytes: 2000 }).write([event("fresh")], now);
  const left = spooled(shared.path).map((line) => String(line.event.parameters.command));
  assert.ok(left.includes("fresh") && left.some((command) => /^e\d+$/.test(command)), left.join(", "));
  assert.ok(!left.some((command) => command.startsWith("xxx")), "the oversized event dropped");
});

test("what a write would leave out, told before writing, is what the spool's bounds leave out, escapes included", () => {
  // Strings whose JSON takes up to 6 bytes a character (a lone surrogate, a control character), where a bound from
  // their lengths would not settle it: the exact size, as the spool writes it, one byte more or less.
  const odd = '\ud800\u0001é😀"\\';
  const cases: SpooledEvent[] = [
    event("plain"),
    { ...event(odd.repeat(40)), sessionId: odd.repeat(30), clientVersion: odd.repeat(20), retries: 3, cuts: 2 },
    { ...event("t"), schemaVersion: odd.repeat(10), timestamp: -1.5e300 },
  ];
  const withBytes = (spooledEvent: SpooledEvent) => ({
    ...spooledEvent,
    bytes: new TextEncoder().encode(spooledEvent.json).length,
  });
  const sizes: number[] = [];
  for (const spooledEvent of cases) {
    using dir = tempDir();
    open(dir.path).write([spooledEvent], now);
    const [name] = files(dir.path);
    const size = statSync(`${dir.path}/${name}`).size;
    sizes.push(size);
    assert.equal(spoolLeavesOut([withBytes(spooledEvent)], { ...limits, maxBytes: size - 1 }), 1);
    assert.equal(spoolLeavesOut([withBytes(spooledEvent)], { ...limits, maxBytes: size }), 0);
  }
  // Together: each fits alone, not all beside each other; and the bound on events.
  const all = cases.map(withBytes);
  const total = sizes.reduce((sum, size) => sum + size, 0);
  assert.equal(spoolLeavesOut(all, { ...limits, maxBytes: total }), 0);
  assert.equal(spoolLeavesOut(all, { ...limits, maxBytes: total - 1 }), 1);
  assert.equal(spoolLeavesOut(all, { ...limits, maxEvents: 2 }), 1);
  using dir = tempDir();
  assert.deepEqual(open(dir.path, { ...limits, maxBytes: total - 1 }).write(cases, now).written, { spool_full: 1 });
});

test("events older than maxAge are dropped as spool_expired, at write and at claim", () => {
  using dir = tempDir();
  const spool = open(dir.path, { ...limits, maxAgeMs: 60_000 });
  spool.write([event("ancient")], now - 120_000);
  assert.deepEqual(spool.write([event("fresh"), event("stale", 0, now - 90_000)], now), {
    written: {},
    older: { spool_expired: 1 },
  });
  const { events, dropped } = spool.claim(100, now, LEASE_MS);
  assert.deepEqual(events.map((e) => JSON.parse(e.json).parameters.command), ["fresh"]);
  assert.deepEqual(dropped, { spool_expired: 1 });
});

test("a claim older than an hour belongs to a dead run and is taken over; a fresh one is not", () => {
  using dir = tempDir();
  open(dir.path).write([event("a")], now);
  assert.equal(open(dir.path).claim(100, now, LEASE_MS).events.length, 1);
  assert.equal(open(dir.path).claim(100, now + LEASE_MS - 1, LEASE_MS).events.length, 0);
  const takeover = open(dir.path).claim(100, now + LEASE_MS + 1, LEASE_MS);
  assert.equal(takeover.events.length, 1);
  assert.equal(files(dir.path).length, 1, "still one file, claimed anew");
});

test("a claim whose run died holding another endpoint's expired events goes with them: no run of it may come again", () => {
  using dir = tempDir();
  const day = 86_400_000;
  // Runs of a program whose headers change every run (an endpoint key each), killed with their events claimed.
  const claimedAndKilled = (run: number, at: number, leaseMs = LEASE_MS) => {
    const key = spoolKey(`https://example.com/v1?run=${run}`);
    open(dir.path, limits, key).write([event(`r${run}a`, 0, at), event(`r${run}b`, 0, at)], at);
    assert.equal(open(dir.path, limits, key).claim(100, at, leaseMs).events.length, 2);
  };
  claimedAndKilled(1, now - 8 * day);
  claimedAndKilled(2, now - day);
  // Expired events whose claim ended minutes ago: perhaps a live run's (a program that keeps them longer, its clock
  // behind this one's, or a laptop asleep), left for a day.
  claimedAndKilled(3, now - 8 * day - 1, 8 * day - 600_000);
  assert.deepEqual(open(dir.path).write([event("run")], now), { written: {}, older: { spool_expired: 2 } });
  const claims = files(dir.path).filter((name) => name.startsWith("l-")).map((name) => name.split("-e-")[1]);
  assert.deepEqual(claims.map((name) => Number(name.split("-")[0])).sort(), [now - 8 * day - 1, now - day]);
});

test("dead claims that cannot be removed (directories named as claims) cost a run a bounded number of tries", () => {
  using dir = tempDir();
  const line = JSON.stringify(spoolLine("x"));
  const dead = (i: number) =>
    `l-${now - 8 * 86_400_000}-e-${now - 9 * 86_400_000}-1-${line.length + 1}-${KEY}-${
      String(i).padStart(12, "0")
    }.jsonl`;
  for (let i = 0; i < FILES_PER_CALL + 6; i++) mkdirSync(`${dir.path}/${dead(i)}`);
  // Deno removes an empty directory as it would a file (each counted as one corrupt event); the others cannot.
  assert.deepEqual(open(dir.path).write([event("run")], now).written, {});
  const left = files(dir.path).filter((name) => name.startsWith(`l-${now - 8 * 86_400_000}-`));
  assert.equal(left.length, 6, "each of the others tried once: removed, or taken and left for a day");
});

test("a claim holds until it ends, however far ahead: a long exit budget's lease, or a clock set back since", () => {
  using dir = tempDir();
  open(dir.path).write([event("a")], now);
  const [name] = files(dir.path);
  // What a run with a three-hour exit budget leases at its exit, looked at by a run whose clock is an hour behind.
  renameSync(`${dir.path}/${name}`, `${dir.path}/l-${now + 3 * LEASE_MS}-${name}`);
  assert.equal(open(dir.path).claim(100, now - LEASE_MS, LEASE_MS).events.length, 0, "not taken");
  assert.equal(open(dir.path).claim(100, now + 3 * LEASE_MS + 1, LEASE_MS).events.length, 1, "then taken");
});

test("temporary files a crashed writer left are removed once stale, or named by a clock that ran ahead", () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/t-${now - 3_600_000 - 5}-abcdef.tmp`, "half");
  writeFileSync(`${dir.path}/t-${now + 730 * 86_400_000}-abcdef.tmp`, "half, two years ahead");
  writeFileSync(`${dir.path}/t-${now}-abcdef.tmp`, "being written right now");
  writeFileSync(`${dir.path}/t-${now + 60_000}-abcdef.tmp`, "being written by a clock a minute ahead");
  const live = `t-${now + 7_200_000}-abcdef.tmp`;
  writeFileSync(`${dir.path}/${live}`, "being written now by a clock two hours ahead");
  utimesSync(`${dir.path}/${live}`, new Date(now), new Date(now));
  open(dir.path).claim(100, now, LEASE_MS);
  assert.deepEqual(files(dir.path).sort(), [`t-${now + 60_000}-abcdef.tmp`, `t-${now}-abcdef.tmp`, live].sort());
});

test("a directory that cannot be created means no spool, not an error", () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/file`, "");
  assert.equal(Spool.open(`${dir.path}/file/spool`, fs, limits, KEY), undefined);
});

test("a spooled line that enqueue would refuse (a null parameter) is dropped alone; its neighbours go", () => {
  using dir = tempDir();
  const spool = open(dir.path);
  spool.write([event("a"), event("b")], now);
  const [name] = files(dir.path);
  const bad = { ...spooled(dir.path)[0], event: { name: "nat_cli_command", ts: "x", parameters: { command: null } } };
  writeFileSync(`${dir.path}/${name}`, `${readFileSync(`${dir.path}/${name}`, "utf8")}${JSON.stringify(bad)}\n`);
  const { events, dropped } = spool.claim(100, now, LEASE_MS);
  assert.deepEqual(events.map((e) => JSON.parse(e.json).parameters.command), ["a", "b"]);
  assert.deepEqual(dropped, { spool_corrupt: 1 });
});

test("one claim touches a bounded number of files: a spool full of junk costs each run little", () => {
  using dir = tempDir();
  for (let i = 0; i < FILES_PER_CALL * 3; i++) {
    writeFileSync(`${dir.path}/e-${now - 10_000 + i}-1-100-${KEY}-${String(i).padStart(12, "0")}.jsonl`, "junk\n");
  }
  const first = open(dir.path).claim(1000, now, LEASE_MS);
  assert.deepEqual(first.dropped, { spool_corrupt: FILES_PER_CALL });
  assert.equal(files(dir.path).length, FILES_PER_CALL * 2, "the rest is left for later runs");
});

test("what pruning drops is counted from the lines a file holds, not from what its name says", () => {
  using dir = tempDir();
  const spool = open(dir.path, { ...limits, maxEvents: 1 });
  const liar = `e-${now - 5000}-900-${900 * 100}-${KEY}-000000000bad.jsonl`;
  writeFileSync(`${dir.path}/${liar}`, `${JSON.stringify({ ...spoolLine("liar") })}\n`);
  const result = spool.write([event("new")], now);
  assert.deepEqual(result, { written: {}, older: { spool_full: 1 } }, "one line was there, not 900");
  assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["new"]);
});

test("a file larger than the spool's bound (a program with a larger one wrote it) counts every event it holds", () => {
  using dir = tempDir();
  const large = Array.from({ length: 400 }, (_, i) => event(`${i}`.padEnd(3000, "x")));
  open(dir.path, { ...limits, maxBytes: 10_000_000 }).write(large, now);
  const [name] = files(dir.path);
  assert.ok(statSync(`${dir.path}/${name}`).size > limits.maxBytes, "one file, over the default bound");
  // A run with the default bound keeps its bound: not read (nor held in memory), but counted, 400 and not 1.
  const { events, dropped } = open(dir.path).claim(1000, now, LEASE_MS);
  assert.deepEqual([events.length, dropped], [0, { spool_corrupt: 400 }]);
  assert.deepEqual(files(dir.path), []);
});

test("an unreadable file's count is what its name says, at most what its size can hold: a name can say anything", () => {
  using dir = tempDir();
  const liar = `e-${now - 5000}-999999999-99999999999-${KEY}-00000000dead.jsonl`;
  writeFileSync(`${dir.path}/${liar}`, new Uint8Array(640).fill(0xff)); // not UTF-8, 640 bytes: 10 lines at most
  const { dropped } = open(dir.path).claim(1000, now, LEASE_MS);
  assert.deepEqual(dropped, { spool_corrupt: 10 });
});

test("a file that cannot be read counts as many corrupt events as its name says it holds, not one", () => {
  using dir = tempDir();
  open(dir.path).write([event("a"), event("b"), event("c")], now);
  const [name] = files(dir.path);
  const bytes = readFileSync(`${dir.path}/${name}`);
  bytes[bytes.indexOf("b".charCodeAt(0), bytes.indexOf('"command"'))] = 0xff; // one byte that is not UTF-8
  writeFileSync(`${dir.path}/${name}`, bytes);
  const { events, dropped } = open(dir.path).claim(1000, now, LEASE_MS);
  assert.deepEqual([events.length, dropped], [0, { spool_corrupt: 3 }]);
  assert.deepEqual(files(dir.path), [], "the file is removed");
});

test("an owner that renews its claim keeps it past the hour; only a claim left alone is taken over", () => {
  using dir = tempDir();
  open(dir.path).write([event("a")], now);
  const owner = open(dir.path);
  const { events } = owner.claim(100, now, LEASE_MS);
  assert.equal(events.length, 1);
  assert.equal(owner.renew(events[0].claim, now + LEASE_MS * 1.5), true);
  const later = (ms: number) => open(dir.path).claim(100, now + ms, LEASE_MS).events.length;
  assert.equal(later(LEASE_MS + 1), 0, "renewed: still its owner's");
  assert.equal(later(LEASE_MS * 1.5 + 1), 1, "left alone: taken over");
});

test("each spool claims only its own endpoint's files; others stay for their own", () => {
  using dir = tempDir();
  open(dir.path, limits, spoolKey("https://production.example.com/events")).write([event("prod")], now);
  open(dir.path).write([event("ours")], now);
  const { events } = open(dir.path).claim(100, now, LEASE_MS);
  assert.deepEqual(events.map((e) => JSON.parse(e.json).parameters.command), ["ours"]);
  assert.equal(files(dir.path).filter((name) => name.startsWith("e-")).length, 1, "production's file is untouched");
});

test("an existing spool directory must be private: a symlink or one others can write is refused", () => {
  using dir = tempDir();
  mkdirSync(`${dir.path}/open`, { mode: 0o777 });
  chmodSync(`${dir.path}/open`, 0o777);
  symlinkSync(`${dir.path}/open`, `${dir.path}/link`);
  mkdirSync(`${dir.path}/private`, { mode: 0o700 });
  assert.equal(Spool.open(`${dir.path}/open`, fs, limits, KEY), undefined);
  assert.equal(Spool.open(`${dir.path}/link`, fs, limits, KEY), undefined);
  assert.ok(Spool.open(`${dir.path}/private`, fs, limits, KEY));
  // A link to a private directory, named with a trailing slash (which makes lstat follow it): still a link.
  symlinkSync(`${dir.path}/private`, `${dir.path}/link-to-private`);
  for (const slashes of ["", "/", "//"]) {
    assert.equal(Spool.open(`${dir.path}/link-to-private${slashes}`, fs, limits, KEY), undefined, `'${slashes}'`);
  }
  assert.equal(open(`${dir.path}/private/`).dir, `${dir.path}/private`, "a real one, with its slash, is used");
});

test("two first runs at once: a spool directory another process makes between the look and the mkdir is used", () => {
  using dir = tempDir();
  const path = `${dir.path}/fresh/spool`;
  // The other run makes each directory just before this one does: this one's mkdir fails with EEXIST.
  const racing = {
    ...nodeFs,
    mkdirSync(target: string, options: { mode: number }) {
      nodeFs.mkdirSync(target, options);
      return nodeFs.mkdirSync(target, options);
    },
  };
  const raced = guardedFiles(
    nodeFiles(racing, { uid: process.getuid?.(), gid: process.getgid?.() }, process.platform === "win32"),
  );
  const spool = Spool.open(path, raced, limits, KEY);
  assert.ok(spool, "the spool opens");
  spool.write([event("raced")], now);
  assert.deepEqual(
    open(path).claim(100, now, LEASE_MS).events.map((e) => JSON.parse(e.json).parameters.command),
    [
      "raced",
    ],
  );
  // What the other run made is still checked: a directory others can write is refused, raced or not.
  const open777 = `${dir.path}/open/spool`;
  const careless = guardedFiles(nodeFiles(
    {
      ...nodeFs,
      mkdirSync(target: string, options: { mode: number }) {
        nodeFs.mkdirSync(target, { mode: 0o777 });
        nodeFs.chmodSync(target, 0o777);
        return nodeFs.mkdirSync(target, options);
      },
    },
    { uid: process.getuid?.(), gid: process.getgid?.() },
    process.platform === "win32",
  ));
  assert.equal(Spool.open(open777, careless, limits, KEY), undefined);
});

test("a link raced in above a spool that is being made: nothing is made through it", () => {
  using dir = tempDir();
  mkdirSync(`${dir.path}/elsewhere`, { mode: 0o700 });
  const path = `${dir.path}/shared/a/spool`;
  mkdirSync(`${dir.path}/shared`, { mode: 0o700 });
  // Someone makes `a` a link to a directory of their choosing just before this run's mkdir of it.
  const hijacked = guardedFiles(nodeFiles(
    {
      ...nodeFs,
      mkdirSync(target: string, options: { mode: number }) {
        if (target === `${dir.path}/shared/a`) symlinkSync(`${dir.path}/elsewhere`, target);
        return nodeFs.mkdirSync(target, options);
      },
    },
    { uid: process.getuid?.(), gid: process.getgid?.() },
    process.platform === "win32",
  ));
  assert.equal(Spool.open(path, hijacked, limits, KEY), undefined);
  assert.deepEqual(nodeFs.readdirSync(`${dir.path}/elsewhere`), [], "no directory made through the link");
});

test("a spool to be made through a link where the program may not work (Deno's grants): nothing is made", () => {
  using dir = tempDir();
  mkdirSync(`${dir.path}/base`, { mode: 0o700 });
  mkdirSync(`${dir.path}/elsewhere`, { mode: 0o700 });
  symlinkSync(`${dir.path}/elsewhere`, `${dir.path}/base/link`);
  const path = `${dir.path}/base/link/a/spool`;
  const user = { uid: process.getuid?.(), gid: process.getgid?.() };
  /** Files under grants for paths as given; a grant that follows links (Deno's) refuses a file where it leads. */
  const granted = (followsLinks: boolean, allowed: (target: string, access: "read" | "write") => boolean) =>
    guardedFiles({
      ...nodeFiles(nodeFs, user, process.platform === "win32"),
      permissionsFollowLinks: followsLinks,
      allowed,
    });
  const grants = {
    // `--allow-read=base --allow-write=base`: where the link leads is known before anything is made.
    "the base": (target: string) => target.startsWith(`${dir.path}/base`),
    // `--allow-read --allow-write=base`: it may look there, not write.
    "any read, the base's write": (target: string, access: string) =>
      access === "read" || target.startsWith(`${dir.path}/base`),
    // The README's narrow set, granted as given: the directory above cannot be looked at; told once made.
    "the spool's path alone": (target: string) => target.startsWith(`${dir.path}/base/link/a`),
  };
  for (const [name, allowed] of Object.entries(grants)) {
    const reasons: string[] = [];
    assert.equal(Spool.open(path, granted(true, allowed), limits, KEY, (why) => reasons.push(why)), undefined, name);
    assert.deepEqual(nodeFs.readdirSync(`${dir.path}/elsewhere`), [], `${name}: nothing made where it may not work`);
    assert.match(reasons.join(), /may not read and write .*\/elsewhere\/a\/spool, where .* leads/, name);
  }
  // Two first runs at once: the other made the first directory, through the link, just before this one; this one
  // neither goes into it nor makes the spool in it (the other takes it back).
  const raced = guardedFiles({
    ...nodeFiles(
      {
        ...nodeFs,
        mkdirSync(target: string, options: { mode: number }) {
          if (target === `${dir.path}/base/link/a`) nodeFs.mkdirSync(target, options);
          return nodeFs.mkdirSync(target, options);
        },
      },
      user,
      false,
    ),
    permissionsFollowLinks: true,
    allowed: grants["the spool's path alone"],
  });
  assert.equal(Spool.open(path, raced, limits, KEY), undefined);
  assert.deepEqual(nodeFs.readdirSync(`${dir.path}/elsewhere`), ["a"], "the other run's, for it to take back");
  assert.deepEqual(nodeFs.readdirSync(`${dir.path}/elsewhere/a`), [], "nothing made in it");
  nodeFs.rmdirSync(`${dir.path}/elsewhere/a`);
  // A grant on paths as given (Node.js's --permission) covers what is made through the link: the spool is there.
  assert.ok(Spool.open(path, granted(false, grants["the base"]), limits, KEY));
  assert.deepEqual(nodeFs.readdirSync(`${dir.path}/elsewhere`), ["a"]);
});

test("a spool to be made under a directory others may rename entries of: refused before anything is made", () => {
  using dir = tempDir();
  mkdirSync(`${dir.path}/open`, { mode: 0o777 });
  chmodSync(`${dir.path}/open`, 0o777); // writable by others, not sticky
  assert.equal(Spool.open(`${dir.path}/open/a/spool`, fs, limits, KEY), undefined);
  assert.deepEqual(nodeFs.readdirSync(`${dir.path}/open`), [], "nothing made there");
});

test("a directory above the spool its group may write: the user's own group (umask 002) yes, another group no", {
  skip: process.platform === "win32",
}, () => {
  using dir = tempDir();
  // As `umask 002` leaves ~/.cache: the user's, in the user's own group, group-writable.
  mkdirSync(`${dir.path}/own`, { mode: 0o775 });
  chmodSync(`${dir.path}/own`, 0o775);
  const spool = open(`${dir.path}/own/a/spool`);
  assert.equal(spool.ancestorsSeen, true, "a sender may run from it");
  // Another group's members could swap what is made there (`root:staff 2775`, a shared project directory).
  const other = [0, 65534].find((gid) => gid !== process.getgid?.());
  if (process.getuid?.() !== 0 || other === undefined) return; // only root can give a directory to another group
  mkdirSync(`${dir.path}/shared`, { mode: 0o775 });
  nodeFs.chownSync(`${dir.path}/shared`, 0, other);
  chmodSync(`${dir.path}/shared`, 0o2775);
  assert.equal(Spool.open(`${dir.path}/shared/a/spool`, fs, limits, KEY), undefined);
  assert.deepEqual(nodeFs.readdirSync(`${dir.path}/shared`), [], "nothing made there");
  // Sticky, as a shared /tmp for a group is: no member renames another's entries.
  chmodSync(`${dir.path}/shared`, 0o1775);
  assert.ok(Spool.open(`${dir.path}/shared/a/spool`, fs, limits, KEY));
});

test("Node.js, Bun: the user's own group is their account's primary one, not the one the program runs with", {
  skip: process.getuid?.() !== 0 && "needs root to give a directory to another group",
}, () => {
  using dir = tempDir();
  const shared = `${dir.path}/shared`;
  mkdirSync(shared, { mode: 0o775 });
  nodeFs.chownSync(shared, 0, 65534);
  chmodSync(shared, 0o2775);
  // The program runs with group 65534 (`newgrp`, a setgid launcher); the account's primary group is `primary`.
  const filesWith = (userInfo: () => { gid: number }, bun?: string) => {
    const proc = processWith({
      getgid: () => 65534,
      getBuiltinModule: (name: string) =>
        name === "node:os" ? { userInfo } : process.getBuiltinModule?.(name as "node:fs"),
      versions: { ...process.versions, bun },
    });
    return nodeHost(proc, { lightFetch: false }).files!;
  };
  const seen = (path: string, files: ReturnType<typeof filesWith>) =>
    Spool.open(path, files, limits, KEY)?.ancestorsSeen;
  assert.equal(Spool.open(`${shared}/a`, filesWith(() => ({ gid: 0 })), limits, KEY), undefined, "after newgrp");
  assert.deepEqual(nodeFs.readdirSync(shared), [], "nothing made there");
  assert.equal(seen(`${shared}/b`, filesWith(() => ({ gid: 65534 }))), true, "the account's own group");
  const noAccount = () => {
    throw new Error("no passwd entry"); // a container's arbitrary uid
  };
  assert.equal(seen(`${shared}/c`, filesWith(noAccount)), true, "no account: the group it runs with");
  // Bun's userInfo() gives the group the program runs with: the account is read from /etc/passwd (root's group, 0).
  const bunAfterNewgrp = filesWith(() => ({ gid: 65534 }), "1.4.5");
  assert.equal(Spool.open(`${shared}/d`, bunAfterNewgrp, limits, KEY), undefined, "Bun, after newgrp");
});

test("where the user's ids cannot be known (Deno without --allow-sys), the ancestors are not seen: no sender", {
  skip: process.platform === "win32",
}, () => {
  using dir = tempDir();
  mkdirSync(`${dir.path}/own`, { mode: 0o775 });
  chmodSync(`${dir.path}/own`, 0o775);
  const as = (user: { uid?: number | undefined; gid?: number | undefined }) =>
    guardedFiles(nodeFiles(nodeFs, user, false));
  const seen = (files: ReturnType<typeof as>, path: string) => Spool.open(path, files, limits, KEY)?.ancestorsSeen;
  const both = { uid: process.getuid?.(), gid: process.getgid?.() };
  assert.equal(seen(as(both), `${dir.path}/plain`), true);
  assert.equal(seen(as({ gid: both.gid }), `${dir.path}/plain`), false, "no owner compared: not even /tmp is seen");
  assert.equal(seen(as(both), `${dir.path}/own/spool`), true);
  assert.equal(seen(as({ uid: both.uid }), `${dir.path}/own/spool`), false, "a group-writable one, group unknown");
  assert.equal(
    seen(as({ uid: both.uid }), `${dir.path}/plain`),
    true,
    "no group-writable one: the group is not needed",
  );
});

test("a spool directory the user may not list, write or go into (0500 after a restore) is refused", {
  skip: process.platform === "win32" && "POSIX modes",
}, () => {
  using dir = tempDir();
  const spoolDir = `${dir.path}/spool`;
  mkdirSync(spoolDir, { mode: 0o700 });
  // As the mode tells it (Deno, which cannot ask the system): root may write whatever the mode, so as root the
  // directory is made another user's, and that user runs.
  const uid = process.getuid?.() === 0 ? 65534 : process.getuid?.();
  if (uid !== process.getuid?.()) nodeFs.chownSync(spoolDir, 65534, 65534);
  const byMode = guardedFiles({ ...nodeFiles(nodeFs, { uid, gid: uid }, false), usableDir: () => undefined });
  // Nor where the user's id cannot be known (Deno without --allow-sys): no one else may write it, so its owner must.
  const noId = guardedFiles({ ...nodeFiles(nodeFs, {}, false), usableDir: () => undefined });
  const refusal = (files: HostFiles, use?: "look") => {
    let why = "";
    return Spool.open(spoolDir, files, limits, KEY, (reason) => why = reason, use) ? "used" : why;
  };
  for (const mode of [0o500, 0o600, 0o300]) {
    chmodSync(spoolDir, mode);
    assert.match(refusal(byMode), /refused .*spool: not_writable$/, mode.toString(8));
    assert.match(refusal(byMode, "look"), /not_writable$/, "nor looked in: runs keep their spool elsewhere");
    assert.match(refusal(noId), /not_writable$/, `${mode.toString(8)}, the user's id unknown`);
  }
  chmodSync(spoolDir, 0o700);
  assert.equal(refusal(byMode), "used", "writable again: used");
  assert.equal(refusal(noId), "used");
  if (process.getuid?.() === 0) {
    // Root's own, the user's id unknown: the program may be root's, who may write it whatever its mode.
    nodeFs.chownSync(spoolDir, 0, 0);
    chmodSync(spoolDir, 0o500);
    assert.equal(refusal(noId), "used", "root's, 0500, the user's id unknown");
  }
});

test("a spool directory the system says the program may not write (a read-only mount) is refused", {
  skip: process.platform === "win32" && "POSIX modes",
}, () => {
  using dir = tempDir();
  const spoolDir = `${dir.path}/spool`;
  mkdirSync(spoolDir, { mode: 0o700 });
  const user = { uid: process.getuid?.(), gid: process.getgid?.() };
  const answering = (code?: string) =>
    guardedFiles(nodeFiles(
      {
        ...nodeFs,
        accessSync(path: string, mode: number) {
          if (code) throw Object.assign(new Error(`${code}: ${path}`), { code });
          nodeFs.accessSync(path, mode);
        },
      },
      user,
      false,
    ));
  for (const code of ["EROFS", "EACCES", "EPERM"]) {
    let why = "";
    assert.equal(Spool.open(spoolDir, answering(code), limits, KEY, (reason) => why = reason), undefined, code);
    assert.match(why, /not_writable$/, code);
  }
  assert.ok(Spool.open(spoolDir, answering(), limits, KEY), "the system's yes: used (its mode 0700)");
  assert.ok(Spool.open(spoolDir, answering("ENOSYS"), limits, KEY), "no verdict: the mode tells");
});

test("a link among the ancestors (/home -> /var/home): judged by where it leads, not by its own mode", {
  skip: process.platform === "win32",
}, () => {
  using dir = tempDir();
  mkdirSync(`${dir.path}/var/home`, { recursive: true, mode: 0o755 });
  symlinkSync("var/home", `${dir.path}/home`); // relative, as Fedora's; a link is always rwxrwxrwx
  const spool = open(`${dir.path}/home/user/spool`);
  assert.equal(
    spool.dir,
    `${dir.path}/var/home/user/spool`,
    "worked in where it leads (Deno checks permissions there)",
  );
  spool.write([event("a")], now);
  assert.equal(files(`${dir.path}/var/home/user/spool`).length, 1);

  // A link into a directory others may rename entries of: that directory could be swapped under the spool.
  mkdirSync(`${dir.path}/open/home`, { recursive: true, mode: 0o755 });
  chmodSync(`${dir.path}/open`, 0o777); // writable by others, not sticky
  symlinkSync(`${dir.path}/open/home`, `${dir.path}/away`);
  assert.equal(Spool.open(`${dir.path}/away/user/spool`, fs, limits, KEY), undefined);
  assert.deepEqual(nodeFs.readdirSync(`${dir.path}/open/home`), [], "nothing made there");
});

test("a link that leads through another link, or nowhere: refused, as the walk cannot see who may swap that one", {
  skip: process.platform === "win32",
}, () => {
  using dir = tempDir();
  // Our link to a link in a sticky directory (whose owner, anyone, may point it elsewhere), which leads to ours.
  mkdirSync(`${dir.path}/real`, { mode: 0o700 });
  mkdirSync(`${dir.path}/sticky`, { mode: 0o777 });
  chmodSync(`${dir.path}/sticky`, 0o1777);
  symlinkSync("../real", `${dir.path}/sticky/theirs`);
  symlinkSync(`${dir.path}/sticky/theirs`, `${dir.path}/ours`);
  assert.equal(Spool.open(`${dir.path}/ours/spool`, fs, limits, KEY), undefined);
  assert.deepEqual(nodeFs.readdirSync(`${dir.path}/real`), [], "nothing made there");
  // A dangling link, and a loop.
  symlinkSync(`${dir.path}/missing`, `${dir.path}/dangling`);
  symlinkSync(`${dir.path}/loop`, `${dir.path}/loop`);
  for (const link of ["dangling", "loop"]) {
    assert.equal(Spool.open(`${dir.path}/${link}/spool`, fs, limits, KEY), undefined, link);
  }
});

/** A spool line as a run writes it. */
function spoolLine(command: string) {
  return {
    retries: 0,
    schemaVersion: "1.5",
    sessionId: "s",
    timestamp: now - 1000,
    event: JSON.parse(event(command).json),
  };
}

test("a file holds one session's events: one request's worth, settled whole when it is delivered", () => {
  using dir = tempDir();
  const spool = open(dir.path);
  const session = (command: string, id: string) => ({ ...event(command), sessionId: id });
  const lines = [session("a", "session-a"), session("b", "session-b"), session("c", "session-a")];
  spool.write(lines, now);
  const written = files(dir.path).map((name) => readFileSync(`${dir.path}/${name}`, "utf8").trim().split("\n"));
  const sessions = written.map((file) => file.map((line) => JSON.parse(line).sessionId));
  assert.deepEqual(sessions.map((file) => file.join()).sort(), ["session-a,session-a", "session-b"]);
});

test("an older version's claim (c-<since>) is left alone for an hour: the two versions never send it twice", () => {
  using dir = tempDir();
  open(dir.path).write([event("a")], now);
  const [name] = files(dir.path);
  renameSync(`${dir.path}/${name}`, `${dir.path}/c-${now}-${name}`);
  assert.equal(open(dir.path).claim(100, now + 60_000, LEASE_MS).events.length, 0, "a minute later: still its");
  assert.equal(open(dir.path).claim(100, now + 3_600_001, LEASE_MS).events.length, 1, "an hour later: taken");
});

test("a program's Math.random that gives NaN, or 1, still gives spool files names that are claimed, and distinct", () => {
  using dir = tempDir();
  const spool = open(dir.path);
  const random = Math.random;
  try {
    for (const broken of [() => NaN, () => 1]) {
      Math.random = broken;
      spool.write([event("a")], now);
      spool.write([event("b")], now);
    }
  } finally {
    Math.random = random;
  }
  assert.equal(files(dir.path).length, 4, files(dir.path).join("\n"));
  const { events } = spool.claim(100, now, LEASE_MS);
  assert.deepEqual(events.map((e) => JSON.parse(e.json).parameters.command).sort(), ["a", "a", "b", "b"]);
});

for (const broken of ["nan", "one", "symbol", "bigint", "throws"]) {
  test(`a Math.random replaced before the package loaded (${broken}): names are still random hex, jitter a fraction`, async () => {
    const run = await runChild("broken_random_child.ts", { args: [broken], limitMs: 20_000 });
    assert.equal(run.code, 0, run.stderr);
    const [first, second, fraction] = JSON.parse(run.stdout);
    assert.match(first, /^[0-9a-f]{12}$/);
    assert.match(second, /^[0-9a-f]{12}$/);
    assert.notEqual(first, second);
    assert.ok(fraction >= 0 && fraction < 1, String(fraction));
  });
}

test("a Math.random that repeats from run to run (seeded) does not repeat the package's names: session ids, files", async () => {
  const names: string[] = [];
  for (let run = 0; run < 3; run++) {
    const child = await runChild("broken_random_child.ts", { args: ["seeded"], limitMs: 20_000 });
    assert.equal(child.code, 0, child.stderr);
    names.push(...JSON.parse(child.stdout).slice(0, 2));
  }
  assert.equal(new Set(names).size, 6, names.join(" "));
});
