import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { Buffer } from "node:buffer";
import process from "node:process";
import {
  effectiveConsent,
  isTelemetryEnabled,
  NATTelemetryHandler,
  type NATTelemetryHandlerOptions,
  PROMPT_VERSION,
  recordConsent,
  setTelemetryEnabled,
} from "../mod.ts";
import {
  consentFilePath,
  consentHolds,
  decisionOf,
  formatConsentToml,
  liveDecision,
  optOutOverridden,
  readConsentFile,
} from "../src/consent.ts";
import { parseToml } from "../src/toml.ts";
import fc from "fast-check";
import { canRun, fixturePath, runChild } from "./helpers/child.ts";
import { runtimeInfo } from "../src/runtime/mod.ts";
import { commandEvent } from "./helpers/events.ts";
import { TestServer, withServer } from "./helpers/server.ts";
import { files, LONG_AGO, readsAreDated, tempDir } from "./helpers/spool_dir.ts";

const pythonVector = new URL("./vectors/consent-written-by-python-reference.toml", import.meta.url).pathname;

/** Runs `fn` with environment variables set (or, with `undefined`, unset), then restores them. */
function withEnv(vars: Record<string, string | undefined>, fn: () => void) {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(vars);
  try {
    fn();
  } finally {
    apply(saved);
  }
}

test("the consent file is under HOME, joined with one slash (a container's HOME=/, a trailing slash)", () => {
  for (const [home, path] of [["/h", "/h"], ["/h/", "/h"], ["/", ""]]) {
    withEnv({ NAT_TELEMETRY_CONSENT_FILE: undefined, HOME: home }, () => {
      assert.equal(consentFilePath(), `${path}/.config/nat/telemetry.toml`, `HOME=${home}`);
    });
  }
});

test("the consent file the Python tool writes reads as its decision", () => {
  assert.equal(readConsentFile(pythonVector), "enabled");
  assert.deepEqual(parseToml(readFileSync(pythonVector, "utf8")).telemetry, {
    consent: "enabled",
    consented_at: "2026-11-28T04:06:19Z",
    prompt_version: "1.0",
  });
});

test("what we write has the Python tool's table, keys and timestamp format, and reads back", () => {
  using dir = tempDir();
  const text = formatConsentToml("disabled", Date.UTC(2026, 10, 28, 4, 6, 19, 999));
  assert.match(text, /^\[telemetry\]$/m);
  assert.match(text, /^consent = "disabled"$/m);
  assert.match(text, /^consented_at = "2026-11-28T04:06:19Z"$/m);
  assert.match(text, new RegExp(`^prompt_version = "${PROMPT_VERSION}"$`, "m"));
  writeFileSync(`${dir.path}/t.toml`, text);
  assert.equal(readConsentFile(`${dir.path}/t.toml`), "disabled");
});

test("Python's own TOML reader reads what we write", {
  skip: !canRun("python3", "-c", "import tomllib") && "needs python3 >= 3.11",
}, () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/t.toml`, formatConsentToml("enabled", Date.UTC(2026, 0, 2, 3, 4, 5)));
  const out = execFileSync("python3", [
    "-c",
    "import sys, tomllib, json; print(json.dumps(tomllib.load(open(sys.argv[1], 'rb'))))",
    `${dir.path}/t.toml`,
  ], { encoding: "utf8" });
  assert.deepEqual(JSON.parse(out), {
    telemetry: { consent: "enabled", consented_at: "2026-01-02T03:04:05Z", prompt_version: PROMPT_VERSION },
  });
});

test("no file, or a file without a decision, reads as never_asked", () => {
  using dir = tempDir();
  const cases = ["", "# nothing yet\n", '[other]\nconsent = "enabled"\nprompt_version = "1.0"', "[telemetry]\n"];
  for (const [i, text] of cases.entries()) {
    writeFileSync(`${dir.path}/${i}.toml`, text);
    assert.equal(readConsentFile(`${dir.path}/${i}.toml`), "never_asked", JSON.stringify(text));
  }
  assert.equal(readConsentFile(`${dir.path}/missing.toml`), "never_asked");
  assert.equal(readConsentFile(`${dir.path}/missing/deeper.toml`), "never_asked");
});

test("a file that is there but cannot be read with certainty reads as disabled (fail closed), never an error", () => {
  using dir = tempDir();
  const cases = [
    "\u0000\u0001\u0002 binary",
    '[telemetry]\nconsent = "enabled',
    "[telemetry]\nconsent = enabled",
    '[telemetry]\nconsent = "maybe"\nprompt_version = "1.0"',
    '[telemetry\nconsent = "enabled"',
  ];
  for (const [i, text] of cases.entries()) {
    writeFileSync(`${dir.path}/${i}.toml`, text);
    assert.equal(readConsentFile(`${dir.path}/${i}.toml`), "disabled", JSON.stringify(text));
  }
  assert.equal(readConsentFile(dir.path), "disabled", "a directory");
});

test("the reader takes comments, other tables, literal strings and escapes", () => {
  const text = [
    "# a comment",
    "[tool]",
    "name = 'x' # trailing",
    "count = 3",
    "[telemetry] # ours",
    "consent = 'enabled'",
    'consented_at = "2026-11-28T04:06:19Z" # when',
    'prompt_version = "1\\u002e0"',
  ].join("\n");
  assert.deepEqual(parseToml(text).telemetry, {
    consent: "enabled",
    consented_at: "2026-11-28T04:06:19Z",
    prompt_version: "1.0",
  });
});

/** Valid TOML variants and invalid files, with the decision Python's tomllib reads in each (kept as a fixture). */
const corpus: { name: string; text: string; decision: string; valid: boolean }[] = JSON.parse(
  readFileSync(new URL("./vectors/consent-corpus.json", import.meta.url), "utf8"),
);

test("every consent file of the corpus reads as the same decision as Python's tomllib reads it", () => {
  for (const { name, text, decision, valid } of corpus) {
    const read = decisionOf(text);
    assert.equal(read.state, decision, name);
    assert.equal(read.problem === "is not valid TOML", !valid, `${name}: ${read.problem ?? "read"}`);
  }
});

test("the corpus's expected decisions are what tomllib itself reads", {
  skip: !canRun("python3", "-c", "import tomllib") && "needs python3 >= 3.11",
}, () => {
  const oracle = new URL("./vectors/consent_decision.py", import.meta.url).pathname;
  const out = execFileSync("python3", [oracle], {
    input: JSON.stringify(corpus.map((entry) => entry.text)),
    encoding: "utf8",
  });
  assert.deepEqual(
    JSON.parse(out),
    corpus.map(({ decision, valid }) => ({ decision, valid })),
  );
});

test("the prompt-version gate: enabled under another version asks again; disabled holds under any", () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/old-yes.toml`, '[telemetry]\nconsent = "enabled"\nprompt_version = "0.9"\n');
  writeFileSync(`${dir.path}/old-no.toml`, '[telemetry]\nconsent = "disabled"\nprompt_version = "0.9"\n');
  writeFileSync(`${dir.path}/no-version.toml`, '[telemetry]\nconsent = "enabled"\n');
  assert.equal(readConsentFile(`${dir.path}/old-yes.toml`), "never_asked");
  assert.equal(readConsentFile(`${dir.path}/old-no.toml`), "disabled");
  assert.equal(readConsentFile(`${dir.path}/no-version.toml`), "never_asked");
});

test("resolution order: NAT_TELEMETRY_ENABLED, then DO_NOT_TRACK, then the file, then off", () => {
  using dir = tempDir();
  const file = `${dir.path}/consent.toml`;
  writeFileSync(file, formatConsentToml("enabled", Date.now()));
  const resolve = (env: Record<string, string | undefined>) => {
    let result: ReturnType<typeof effectiveConsent> | undefined;
    withEnv(
      { NAT_TELEMETRY_CONSENT_FILE: file, NAT_TELEMETRY_ENABLED: undefined, DO_NOT_TRACK: undefined, ...env },
      () => {
        result = effectiveConsent();
      },
    );
    return [result!.enabled, result!.source];
  };
  assert.deepEqual(resolve({}), [true, "file"]);
  assert.deepEqual(resolve({ NAT_TELEMETRY_ENABLED: "0" }), [false, "NAT_TELEMETRY_ENABLED"]);
  assert.deepEqual(resolve({ NAT_TELEMETRY_ENABLED: "", DO_NOT_TRACK: "1" }), [false, "NAT_TELEMETRY_ENABLED"]);
  assert.deepEqual(resolve({ NAT_TELEMETRY_ENABLED: "yes", DO_NOT_TRACK: "1" }), [true, "NAT_TELEMETRY_ENABLED"]);
  assert.deepEqual(resolve({ DO_NOT_TRACK: "1" }), [false, "DO_NOT_TRACK"]);
  assert.deepEqual(resolve({ DO_NOT_TRACK: "true" }), [false, "DO_NOT_TRACK"]);
  assert.deepEqual(resolve({ DO_NOT_TRACK: "0" }), [true, "file"]);
  assert.deepEqual(resolve({ DO_NOT_TRACK: "" }), [true, "file"]);
  writeFileSync(file, "garbage");
  assert.deepEqual(resolve({}), [false, "file"], "a file that cannot be read is an opt-out, not an open question");
  writeFileSync(file, "");
  assert.deepEqual(resolve({}), [false, "default"]);
});

test("recordConsent writes atomically, owner-only, creating the directory, and reads back", () => {
  using dir = tempDir();
  const file = `${dir.path}/config/nat/telemetry.toml`;
  assert.equal(recordConsent("enabled", file), true);
  assert.equal(readConsentFile(file), "enabled");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(`${dir.path}/config/nat`).mode & 0o777, 0o700);
  assert.equal(recordConsent("disabled", file), true);
  assert.equal(readConsentFile(file), "disabled");
});

test("a consent file nested deeper than 100 levels reads as disabled in every runtime, whatever its stack", () => {
  const file = (depth: number, open: string, close: string) =>
    `[telemetry]\nconsent = "enabled"\nprompt_version = "1.0"\nx = ${open.repeat(depth)}${open === "[" ? "" : "1"}${
      close.repeat(depth)
    }\n`;
  for (const [open, close] of [["[", "]"], ["{a=", "}"]]) {
    assert.equal(decisionOf(file(100, open, close)).state, "enabled", `${open}: 100 levels are TOML`);
    for (const depth of [101, 5000, 100_000]) {
      const read = decisionOf(file(depth, open, close));
      assert.equal(read.state, "disabled", `${open}: ${depth} levels`);
      assert.equal(read.problem, "is not valid TOML");
    }
  }
});

test("recordConsent refuses a decision it cannot write, a TypeError, and leaves the shared file as it was", () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  assert.equal(recordConsent("disabled", file), true);
  const before = readFileSync(file, "utf8");
  for (const state of [true, false, "yes", null, undefined, "Enabled"]) {
    assert.throws(
      () => recordConsent(state as "enabled", file),
      (error: Error) => error instanceof TypeError && /must be "enabled" or "disabled", got /.test(error.message),
    );
  }
  for (const path of [5, "", {}]) {
    assert.throws(
      () => recordConsent("enabled", path as string),
      /Cannot record consent: the path must be a non-empty/,
    );
  }
  assert.equal(readFileSync(file, "utf8"), before, "the file the Python tool reads is untouched");
});

test("a consent file where another user could put an old one back reads as disabled, and is not written there", {
  skip: !(process.platform !== "win32" && process.getuid?.() === 0) && "needs root to give a directory another group",
}, () => {
  using dir = tempDir();
  const shared = `${dir.path}/config`; // as a `~/.config` that a group of other users may write (2775)
  const file = `${shared}/nat/telemetry.toml`;
  assert.equal(recordConsent("enabled", file), true);
  chownSync(shared, 0, 4242);
  chmodSync(shared, 0o2775);
  const read = withEnvResult({
    NAT_TELEMETRY_CONSENT_FILE: file,
    NAT_TELEMETRY_ENABLED: undefined,
    DO_NOT_TRACK: undefined,
  });
  assert.equal(read.enabled, false);
  assert.match(read.fileProblem ?? "", /another user could replace it \(ancestor writable by group\)/);
  assert.equal(recordConsent("disabled", file), false, "nothing written where it could be swapped");
  chmodSync(shared, 0o755);
  assert.equal(readConsentFile(file), "enabled", "the same file, in a directory only its owner may write");
});

test("a consent file others may write reads as disabled; one its owner's own group may write (umask 002) is read", {
  skip: process.platform === "win32" && "POSIX modes",
}, () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  assert.equal(recordConsent("enabled", file), true);
  const read = () => withEnvResult({ NAT_TELEMETRY_CONSENT_FILE: file, NAT_TELEMETRY_ENABLED: undefined });
  chmodSync(file, 0o666); // another user could put an old "enabled" back after the user's "disabled"
  assert.equal(read().enabled, false);
  assert.match(read().fileProblem ?? "", /writable by others/);
  chmodSync(file, 0o664); // the user's own file in the user's own group, as `umask 002` leaves it
  assert.equal(read().enabled, statSync(file).gid === process.getgid?.());
  chmodSync(file, 0o644);
  assert.deepEqual([read().enabled, read().fileProblem], [true, undefined]);
});

test("a decision saved over a consent file others may write mends it: written again, the owner's alone", {
  skip: process.platform === "win32" && "POSIX modes",
}, () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const read = () => withEnvResult({ NAT_TELEMETRY_CONSENT_FILE: file, NAT_TELEMETRY_ENABLED: undefined });
  for (const [before, decision] of [["enabled", "disabled"], ["enabled", "enabled"]] as const) {
    assert.equal(recordConsent(before, file), true);
    chmodSync(file, 0o666); // as the Python tool leaves it under `umask 000`: it reads as disabled, and cannot stay so
    assert.equal(recordConsent(decision, file), true, `${before} -> ${decision}`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual([read().enabled, read().fileProblem], [decision === "enabled", undefined]);
  }
  assert.deepEqual(readdirSync(dir.path), ["telemetry.toml"], "no temporary file left");
});

/** Runs `fn` with the consent file at `file` (NAT_TELEMETRY_CONSENT_FILE), then restores it, telemetry off. */
function withConsentFileAt(file: string, fn: () => void) {
  withEnv({ NAT_TELEMETRY_CONSENT_FILE: file }, () => {
    try {
      fn();
    } finally {
      setTelemetryEnabled(false);
    }
  });
}

/** The consent in force with environment variables set (or unset). */
function withEnvResult(vars: Record<string, string | undefined>) {
  let result: ReturnType<typeof effectiveConsent> | undefined;
  withEnv(vars, () => result = effectiveConsent());
  return result!;
}

test("a decision that cannot be persisted returns false, leaves what was there, and no temporary file", () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/not-a-dir`, "");
  assert.equal(recordConsent("enabled", `${dir.path}/not-a-dir/telemetry.toml`), false);
  // A directory where the file should be: the atomic rename fails, and nothing is half-written.
  mkdirSync(`${dir.path}/telemetry.toml/keep`, { recursive: true });
  assert.equal(recordConsent("enabled", `${dir.path}/telemetry.toml`), false);
  assert.deepEqual(readdirSync(dir.path).sort(), ["not-a-dir", "telemetry.toml"]);
  assert.deepEqual(readdirSync(`${dir.path}/telemetry.toml`), ["keep"]);
});

test("a decision is never saved in place of a link or a FIFO (nor a device: NAT_TELEMETRY_CONSENT_FILE=/dev/null)", {
  skip: process.platform === "win32" && "POSIX links, FIFOs and devices",
}, () => {
  using dir = tempDir();
  const theirs = `${dir.path}/dotfiles-telemetry.toml`;
  writeFileSync(theirs, "# the user's own, kept in their dotfiles\n");
  symlinkSync(theirs, `${dir.path}/link.toml`);
  const places = [`${dir.path}/link.toml`]; // not /dev/null itself: a test that failed would replace it
  if (canRun("mkfifo", "--version")) {
    execFileSync("mkfifo", [`${dir.path}/fifo.toml`]);
    places.push(`${dir.path}/fifo.toml`);
  }
  const kinds = () => places.map((path) => [path, lstatSync(path).isSymbolicLink(), lstatSync(path).mode & 0o170000]);
  const before = kinds();
  for (const path of places) {
    for (const state of ["enabled", "disabled"] as const) assert.equal(recordConsent(state, path), false, path);
  }
  assert.deepEqual(kinds(), before, "each is what it was");
  assert.equal(readFileSync(theirs, "utf8"), "# the user's own, kept in their dotfiles\n");
  assert.ok(!readdirSync(dir.path).some((name) => name.endsWith(".tmp")), "no temporary file is left");
});

test("a run follows the consent file that decided: not a copy the program saved elsewhere, nor a relative name moved", () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const cwd = process.cwd();
  mkdirSync(`${dir.path}/elsewhere`);
  try {
    withEnv({ NAT_TELEMETRY_CONSENT_FILE: file, NAT_TELEMETRY_ENABLED: undefined, DO_NOT_TRACK: undefined }, () => {
      assert.equal(recordConsent("enabled"), true);
      assert.equal(recordConsent("enabled", `${dir.path}/copy.toml`), true, "a copy elsewhere");
      assert.equal(consentHolds(), true);
      writeFileSync(file, '[telemetry]\nconsent = "disabled"\nprompt_version = "1.0"\n'); // the user opts out
      assert.equal(consentHolds(), false, "the opt-out in the consent file, not the copy, stops the run");
    });
    process.chdir(dir.path);
    withEnv({ NAT_TELEMETRY_CONSENT_FILE: "telemetry.toml", NAT_TELEMETRY_ENABLED: undefined }, () => {
      assert.equal(recordConsent("enabled", "telemetry.toml"), true);
      process.chdir(`${dir.path}/elsewhere`); // a command that changes directory
      assert.equal(consentHolds(), true, "the file read where the run started, which says yes");
    });
  } finally {
    process.chdir(cwd);
    setTelemetryEnabled(false);
  }
});

test("a name absolute on Windows alone (C:x, \\x) is relative elsewhere: read where the run started", {
  skip: process.platform === "win32" && "there, it names a drive's or the root's file",
}, () => {
  using dir = tempDir();
  const [start, other] = [`${dir.path}/start`, `${dir.path}/other`];
  const names = [`C:${crypto.randomUUID()}.toml`, `\\${crypto.randomUUID()}.toml`];
  for (const [place, state] of [[start, "disabled"], [other, "enabled"]] as const) {
    mkdirSync(place);
    for (const name of names) writeFileSync(`${place}/${name}`, formatConsentToml(state, Date.now()), { mode: 0o600 });
  }
  const cwd = process.cwd();
  try {
    for (const name of names) {
      process.chdir(start);
      withEnv({ NAT_TELEMETRY_CONSENT_FILE: name, NAT_TELEMETRY_ENABLED: undefined, DO_NOT_TRACK: undefined }, () => {
        assert.equal(effectiveConsent().enabled, false, name);
        process.chdir(other); // a command that changes directory, where a file of that name says yes
        assert.deepEqual(pick(effectiveConsent()), { enabled: false, source: "file", fileState: "disabled" }, name);
        assert.equal(consentFilePath(), `${start}/${name}`, name);
      });
    }
  } finally {
    process.chdir(cwd);
  }
});

test(
  "a relative consent file in a directory that cannot be named is read there alone: not in the one the run moves to",
  {
    skip: process.platform !== "linux" && "the shell names the directory",
  },
  () => {
    using dir = tempDir();
    const no = formatConsentToml("disabled", Date.now());
    // A directory named with the byte 0xE9 (Latin-1), reached through a link: its real path reads with U+FFFD.
    execFileSync("/bin/sh", [
      "-c",
      'L="$(printf "%s/caf\\351" "$1")"; mkdir "$L"; printf "%s" "$2" > "$L/consent.toml"; ln -s "$L" "$1/here"',
      "sh",
      dir.path,
      no,
    ]);
    mkdirSync(`${dir.path}/there`);
    writeFileSync(`${dir.path}/there/consent.toml`, formatConsentToml("enabled", Date.now()), { mode: 0o600 });
    const cwd = process.cwd();
    try {
      process.chdir(`${dir.path}/here`);
      withEnv(
        { NAT_TELEMETRY_CONSENT_FILE: "consent.toml", NAT_TELEMETRY_ENABLED: undefined, DO_NOT_TRACK: undefined },
        () => {
          assert.deepEqual(pick(effectiveConsent()), { enabled: false, source: "file", fileState: "disabled" });
          process.chdir(`${dir.path}/there`); // a command that changes directory, where a file of that name says yes
          const moved = effectiveConsent();
          assert.equal(moved.enabled, false, "the user's no holds");
          assert.match(moved.fileProblem ?? "", /working directory the program has left/);
          assert.equal(recordConsent("enabled"), false, "nothing saved in the other directory's file");
          assert.match(readFileSync("consent.toml", "utf8"), /consent = "enabled"/, "which is as it was");
          process.chdir(`${dir.path}/here`);
          assert.deepEqual(pick(effectiveConsent()), { enabled: false, source: "file", fileState: "disabled" }, "back");
        },
      );
    } finally {
      process.chdir(cwd);
    }
  },
);

test("a relative consent file in a working directory the program may not read is a no, wherever the run moves", {
  skip: runtimeInfo().name === "bun" && "Bun has no permission model",
}, async () => {
  using dir = tempDir();
  const [start, other] = [`${dir.path}/start`, `${dir.path}/other`];
  for (const [place, state] of [[start, "disabled"], [other, "enabled"]] as const) {
    mkdirSync(place);
    writeFileSync(`${place}/consent.toml`, formatConsentToml(state, Date.now()), { mode: 0o600 });
  }
  // It may read its own code, the file where it starts and the directory it moves to, but not where it starts.
  const repo = new URL("..", import.meta.url).pathname;
  const node = ["--permission", `--allow-fs-read=${repo}*`, `--allow-fs-read=${start}/consent.toml`];
  const run = await runChild("consent_chdir_child.ts", {
    executable: runtimeInfo().name === "node" ? process.execPath : undefined,
    args: runtimeInfo().name === "node"
      ? [...node, `--allow-fs-read=${other}/*`, fixturePath("consent_chdir_child.ts"), other]
      : [other],
    denoFlags: ["--allow-env", `--allow-read=${repo},${start}/consent.toml,${other}`],
    env: { NAT_TELEMETRY_CONSENT_FILE: "consent.toml", NAT_TELEMETRY_ENABLED: undefined, DO_NOT_TRACK: undefined },
    cwd: start,
  });
  assert.equal(run.code, 0, run.stderr);
  const { after, saved } = JSON.parse(run.stdout);
  assert.equal(after.enabled, false, "the other directory's yes decides nothing");
  assert.match(after.fileProblem, /working directory the program may not read/);
  assert.equal(saved, false);
  assert.match(readFileSync(`${other}/consent.toml`, "utf8"), /consent = "enabled"/, "which is as it was");
});

test("hostile code at the places relative consent files were kept: an absolute file reads as it says, a relative one no", async () => {
  using dir = tempDir();
  const yes = formatConsentToml("enabled", Date.now());
  const cases: [string, PropertyDescriptor][] = [
    ["has", {
      value: () => {
        throw new Error("has");
      },
    }],
    ["size", {
      get: () => {
        throw new Error("size");
      },
    }],
    ["set", {
      value: function (this: unknown) {
        return this;
      },
    }], // keeps nothing, and says nothing
  ];
  for (const name of ["absolute", "threads", ...cases.map(([method]) => method)]) {
    writeFileSync(`${dir.path}/${name}.toml`, yes, { mode: 0o600 });
  }
  const places = (globalThis as Record<symbol, Map<string, unknown>>)[
    Symbol.for("@nat/telemetry: where relative consent files were first read")
  ];
  const cwd = process.cwd();
  // What the program stored under the key the package gives its worker threads (Node.js and Bun): a getter that throws.
  const threads = runtimeInfo().name === "deno" ? undefined : await import("node:worker_threads");
  const key = "@nat/telemetry: relative consent files";
  try {
    process.chdir(dir.path);
    threads?.setEnvironmentData(key, {
      get hostile() {
        throw new Error("getter");
      },
    });
    withEnv({ NAT_TELEMETRY_CONSENT_FILE: "threads.toml", NAT_TELEMETRY_ENABLED: undefined }, () => {
      assert.equal(effectiveConsent().enabled, true, "no throw; nothing taken from it");
    });
    for (const [method, descriptor] of cases) {
      Object.defineProperty(places, method, { ...descriptor, configurable: true });
      try {
        withEnv({ NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/absolute.toml`, NAT_TELEMETRY_ENABLED: undefined }, () => {
          assert.deepEqual(pick(effectiveConsent()), { enabled: true, source: "file", fileState: "enabled" }, method);
        });
        withEnv({ NAT_TELEMETRY_CONSENT_FILE: `${method}.toml`, NAT_TELEMETRY_ENABLED: undefined }, () => {
          const relative = effectiveConsent();
          assert.equal(relative.enabled, false, method);
          assert.match(relative.fileProblem ?? "", /where the run first read it cannot be told/, method);
          assert.equal(recordConsent("disabled"), false, method);
        });
      } finally {
        delete (places as unknown as Record<string, unknown>)[method];
      }
    }
  } finally {
    process.chdir(cwd);
    threads?.setEnvironmentData(key, undefined);
  }
});

function pick({ enabled, source, fileState }: { enabled: boolean; source: string; fileState: string }) {
  return { enabled, source, fileState };
}

test("an opt-out the program makes with one copy of the package stops every copy in the process; turning on is one copy's", async () => {
  using dir = tempDir();
  cpSync(new URL("../dist", import.meta.url), dir.path, { recursive: true });
  const server = await TestServer.start();
  try {
    for (const optingOut of ["own", "plugin"]) {
      const run = await runChild("two_copies_child.ts", {
        args: [dir.path, optingOut, server.url()],
        env: { NAT_TELEMETRY_ENABLED: "1" },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), { enabled: [false, false], sent: [0, 0] }, optingOut);
    }
    assert.equal(server.requests.length, 0);
    // The user opted out; a plugin turns its own copy on: the program's stays off.
    const run = await runChild("two_copies_child.ts", {
      args: [dir.path, "plugin-on", server.url()],
      env: { NAT_TELEMETRY_ENABLED: "0" },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { enabled: [false, true], sent: [0, 1] });
    // The program turns its own copy on after a plugin opted out: its decision stands, at once.
    const after = await runChild("two_copies_child.ts", {
      args: [dir.path, "plugin-then-own-on", server.url()],
      env: { NAT_TELEMETRY_ENABLED: "1" },
    });
    assert.deepEqual(JSON.parse(after.stdout), { enabled: [true, false], sent: [1, 0] });
    // A global object that takes no new property once the copies are loaded (hardened at start-up): the opt-out still
    // reaches them all, and nothing throws.
    const sealed = await runChild("two_copies_child.ts", {
      args: [dir.path, "sealed", server.url()],
      env: { NAT_TELEMETRY_ENABLED: "1" },
    });
    assert.deepEqual(JSON.parse(sealed.stdout), { enabled: [false, false], sent: [0, 0] });
    // A relative consent file: the plugin's copy, reading it only after the program changed directory, follows the
    // file the program's copy read where the run started (a no), not the other directory's yes.
    for (const [place, state] of [["start", "disabled"], ["other", "enabled"]] as const) {
      mkdirSync(`${dir.path}/${place}`);
      writeFileSync(`${dir.path}/${place}/consent.toml`, formatConsentToml(state, Date.now()), { mode: 0o600 });
    }
    const started = { enabled: false, path: `${realpathSync(dir.path)}/start/consent.toml` };
    // A worker thread the program starts after changing directory (Deno's host does not reach its Node.js layer).
    if (runtimeInfo().name !== "deno") {
      const worker = await runChild("consent_worker_child.ts", {
        args: [`${dir.path}/other`],
        env: { NAT_TELEMETRY_CONSENT_FILE: "consent.toml", NAT_TELEMETRY_ENABLED: undefined, DO_NOT_TRACK: undefined },
        cwd: `${dir.path}/start`,
      });
      assert.equal(worker.code, 0, worker.stderr);
      assert.deepEqual(JSON.parse(worker.stdout), { main: started, worker: started });
    }
    // Also where a copy read it under another name in between (the program's host code changed the variable and back).
    for (const mode of ["relative", "renamed"]) {
      const relative = await runChild("two_copies_child.ts", {
        args: [dir.path, mode, server.url(), `${dir.path}/other`],
        env: { NAT_TELEMETRY_CONSENT_FILE: "consent.toml", NAT_TELEMETRY_ENABLED: undefined, DO_NOT_TRACK: undefined },
        cwd: `${dir.path}/start`,
      });
      assert.equal(relative.code, 0, relative.stderr);
      assert.deepEqual(JSON.parse(relative.stdout), { own: started, plugin: started }, mode);
    }
    // A global object frozen before the package loads keeps no place for any copy: the file is not followed. (Deno
    // itself cannot end a program whose global object is frozen: it marks the object as it unloads.)
    if (runtimeInfo().name === "deno") return;
    const frozen = await runChild("frozen_global_child.ts", {
      env: { NAT_TELEMETRY_CONSENT_FILE: "consent.toml", NAT_TELEMETRY_ENABLED: undefined, DO_NOT_TRACK: undefined },
      cwd: `${dir.path}/other`,
    });
    assert.equal(frozen.code, 0, frozen.stderr);
    assert.deepEqual(JSON.parse(frozen.stdout), {
      enabled: false,
      fileState: "disabled",
      fileProblem: "is relative, and where the run first read it cannot be told",
    });
  } finally {
    await server.close();
  }
});

/**
 * A run on the consent file's yes holds one event while `rewrite` changes the file as another shell would; then it
 * stops. Returns what the endpoint received, the run's counters, what it spooled, and whether telemetry is still on.
 */
async function heldThroughRewrite(
  rewrite: (file: string, original: string) => void,
  options: NATTelemetryHandlerOptions = {},
) {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const saved = [process.env.NAT_TELEMETRY_CONSENT_FILE, process.env.NAT_TELEMETRY_ENABLED, process.env.DO_NOT_TRACK];
  process.env.NAT_TELEMETRY_CONSENT_FILE = file;
  delete process.env.NAT_TELEMETRY_ENABLED;
  delete process.env.DO_NOT_TRACK;
  try {
    assert.equal(recordConsent("enabled"), true, "the user's answer, saved by the program");
    // Dated to the second, as some file systems date files, for a rewrite within that second; saving the same answer
    // again leaves the file as it is and takes its time anew.
    const second = new Date(Math.floor(Date.now() / 1000) * 1000);
    utimesSync(file, second, second);
    assert.equal(recordConsent("enabled"), true);
    assert.equal(consentHolds(), true, "the program's own save is the run's decision");
    let outcome: { received: number; dropped: Record<string, number>; spooled: string[]; on: boolean } | undefined;
    await withServer(async (server) => {
      const spoolDir = `${dir.path}/spool`;
      const handler = new NATTelemetryHandler({ endpoint: server.url(), spoolDir, ...options });
      handler.enqueue(commandEvent("held"));
      rewrite(file, readFileSync(file, "utf8"));
      await handler.stop();
      // Nothing written for a sender either (its script).
      const spooled = existsSync(spoolDir) ? files(spoolDir) : [];
      const { dropped } = handler.stats();
      outcome = { received: server.requests.length, dropped, spooled, on: isTelemetryEnabled() && consentHolds() };
    });
    return outcome!;
  } finally {
    setTelemetryEnabled(false);
    const names = ["NAT_TELEMETRY_CONSENT_FILE", "NAT_TELEMETRY_ENABLED", "DO_NOT_TRACK"];
    names.forEach((name, index) =>
      saved[index] === undefined ? delete process.env[name] : process.env[name] = saved[index]
    );
  }
}

test(
  "what changes a consent file's metadata alone (its mode set again, a hard link, a backup's atime) does not stop a run it turned on",
  {
    skip: process.platform === "win32" && "POSIX modes and links",
  },
  async () => {
    const outcome = await heldThroughRewrite((file) => {
      chmodSync(file, statSync(file).mode & 0o777);
      linkSync(file, `${file}.snapshot`); // as `cp -al` makes a snapshot
      utimesSync(file, new Date(Date.now() - 86_400_000), statSync(file).mtime);
    });
    assert.deepEqual(outcome, { received: 1, dropped: {}, spooled: [], on: true });
  },
);

test("a decision written during a run, even a yes again (disable, then enable, between two looks), stops what it holds", async () => {
  const outcome = await heldThroughRewrite((file) => {
    writeFileSync(file, formatConsentToml("disabled", Date.now()));
    writeFileSync(file, formatConsentToml("enabled", Date.now() + 1_000));
  });
  // Nothing held through the opt-out is sent or spooled, and the run records nothing more (a later run follows the
  // new decision).
  assert.deepEqual(outcome, { received: 0, dropped: { opted_out: 1 }, spooled: [], on: false });
});

test("a decision written again to the very same text (disable, then enable, within a second) stops what it holds too", async () => {
  const outcome = await heldThroughRewrite((file, original) => {
    writeFileSync(file, formatConsentToml("disabled", Date.now()));
    writeFileSync(file, original); // `consented_at` counts seconds
    const later = new Date(Date.now() + 1_000); // the file's time tells, where the clock has moved on
    utimesSync(file, later, later);
  });
  assert.deepEqual(outcome, { received: 0, dropped: { opted_out: 1 }, spooled: [], on: false });
});

test("on a file system that dates files by the second, a decision written again within it still stops what is held", async () => {
  const outcome = await heldThroughRewrite((file, original) => {
    const { mtime } = statSync(file);
    const saved = Date.parse(/^# Saved (\S+)\.$/m.exec(original)![1]);
    writeFileSync(file, formatConsentToml("disabled", saved));
    // `enable` in the same second as the run's own decision, and a file time that did not move.
    writeFileSync(file, formatConsentToml("enabled", saved % 1000 === 999 ? saved - 1 : saved + 1));
    utimesSync(file, mtime, mtime);
  });
  assert.deepEqual(outcome, { received: 0, dropped: { opted_out: 1 }, spooled: [], on: false });
});

for (const [name, value] of [["DO_NOT_TRACK", "1"], ["NAT_TELEMETRY_ENABLED", "0"]]) {
  test(`an opt-out the program puts in its environment during a run (${name}=${value}) stops what it holds`, async () => {
    // A CLI that maps its `--no-telemetry` flag to the variable, in the command trackCommand runs.
    const outcome = await heldThroughRewrite(() => process.env[name] = value);
    assert.deepEqual(outcome, { received: 0, dropped: { opted_out: 1 }, spooled: [], on: false });
  });
}

test("an opt-out seen in the environment holds for the rest of the run, even taken away again; the trail says so", async () => {
  let decidedBy = "";
  const outcome = await heldThroughRewrite(() => {
    process.env.DO_NOT_TRACK = "1"; // for a tool the program runs, say, while a flush looks
    assert.equal(consentHolds(), false);
    delete process.env.DO_NOT_TRACK;
    decidedBy = liveDecision().decidedBy;
  });
  assert.deepEqual(outcome, { received: 0, dropped: { opted_out: 1 }, spooled: [], on: false });
  assert.equal(decidedBy, "an opt-out set in the environment during the run");
});

test("an opt-out put in the environment during a run does not undo the program's own setTelemetryEnabled(true)", async () => {
  const outcome = await heldThroughRewrite(() => {
    setTelemetryEnabled(true);
    process.env.DO_NOT_TRACK = "1";
  });
  assert.deepEqual(outcome, { received: 1, dropped: {}, spooled: [], on: true });
});

test("a no the program overrides is the consent file's in force: one it moved to since (HOME changed) counts, not the one it left", () => {
  using dir = tempDir();
  const [none, no, yes] = ["none", "no", "yes"].map((name) => `${dir.path}/${name}/telemetry.toml`);
  for (const [path, state] of [[no, "disabled"], [yes, "enabled"]] as const) {
    mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    writeFileSync(path, formatConsentToml(state, Date.now()), { mode: 0o600 });
  }
  const overridden = (from: string, to: string) => {
    let source: string | undefined;
    withEnv({ NAT_TELEMETRY_CONSENT_FILE: from, NAT_TELEMETRY_ENABLED: undefined, DO_NOT_TRACK: undefined }, () => {
      setTelemetryEnabled(true);
      process.env.NAT_TELEMETRY_CONSENT_FILE = to;
      source = optOutOverridden();
    });
    setTelemetryEnabled(false);
    return source;
  };
  assert.equal(overridden(no, no), "file", "the no it found");
  assert.equal(overridden(none, no), "file", "a no where the consent file is now: its events are not spooled");
  assert.equal(overridden(yes, no), "file");
  assert.equal(overridden(no, none), undefined, "no decision where it is now");
  assert.equal(overridden(no, yes), undefined);
});

test("a decision the user writes to the consent file after the program turned telemetry on stops what it holds", async () => {
  let decidedBy = "";
  const outcome = await heldThroughRewrite((file) => {
    setTelemetryEnabled(true); // the README's pattern, or a setting of the program's
    writeFileSync(file, formatConsentToml("disabled", Date.now())); // `mycli telemetry disable` in another shell
    const later = new Date(Date.now() + 1_000);
    utimesSync(file, later, later);
    // Not the program overriding a no, which its exit would say: the user's newer word, which it never saw.
    assert.equal(optOutOverridden(), undefined);
    decidedBy = (consentHolds(), liveDecision().decidedBy);
  });
  assert.deepEqual(outcome, { received: 0, dropped: { opted_out: 1 }, spooled: [], on: false });
  assert.equal(decidedBy, "file", "the user's newer word");
});

test(
  "with no consent file when the program turned telemetry on, whatever is put there since stops it; nothing put there, it holds",
  {
    skip: !canRun("mkfifo", "--version") && "needs mkfifo",
  },
  () => {
    using dir = tempDir();
    const file = `${dir.path}/telemetry.toml`;
    const disabled = `${dir.path}/disabled.toml`;
    writeFileSync(disabled, formatConsentToml("disabled", Date.now()));
    // Each read as "no" at the start of a run: the user's word, or what cannot be read with certainty (a FIFO, a
    // directory, a file others may write), or what a dotfile manager links in.
    const puts: Record<string, () => void> = {
      "the user's file": () => writeFileSync(file, formatConsentToml("disabled", Date.now())),
      "a link to it": () => symlinkSync(disabled, file),
      "a FIFO": () => execFileSync("mkfifo", [file]),
      "a directory": () => mkdirSync(file),
      "a file others may write":
        () => (writeFileSync(file, formatConsentToml("enabled", Date.now())), chmodSync(file, 0o666)),
    };
    withConsentFileAt(file, () => {
      for (const [what, put] of Object.entries(puts)) {
        rmSync(file, { recursive: true, force: true });
        setTelemetryEnabled(true);
        assert.equal(consentHolds(), true, what);
        assert.equal(consentHolds(), true, `${what}: still nothing there, looked at again before each request`);
        put();
        assert.equal(consentHolds(), false, `${what}, put there since`);
      }
    });
  },
);

test(
  "a consent file in a directory where another user may rename files is never opened (a FIFO swapped in would block the open)",
  { skip: process.platform === "win32" && "POSIX modes" },
  () => {
    using dir = tempDir();
    const open = `${dir.path}/open`; // as a shared directory others may write: a FIFO could be renamed in at any time
    mkdirSync(open);
    chmodSync(open, 0o777);
    const file = `${open}/telemetry.toml`;
    writeFileSync(file, formatConsentToml("enabled", Date.now()), { mode: 0o600 });
    if (!readsAreDated(file)) return; // a `noatime` mount: nothing tells a read
    const unread = () => (utimesSync(file, LONG_AGO, statSync(file).mtime), file);
    const read = (what: string) => assert.equal(statSync(file).atimeMs, LONG_AGO.getTime(), `${what}: not opened`);
    assert.equal(readConsentFile(unread()), "disabled");
    read("the start of a run");
    withConsentFileAt(file, () => {
      assert.match(
        effectiveConsent().fileProblem ?? "",
        /another user could replace it \(ancestor writable by others\)/,
      );
      // A program that turned telemetry on with nothing there looks before each request, and opens nothing.
      rmSync(file);
      setTelemetryEnabled(true);
      assert.equal(consentHolds(), true);
      writeFileSync(file, formatConsentToml("enabled", Date.now()), { mode: 0o600 });
      unread();
      assert.equal(consentHolds(), false, "something put there since stops it");
      read("a look before a request");
      // And with a file there when it did: its writing since is told by a look too.
      unread(); // a change of its own: before the program's decision
      setTelemetryEnabled(true);
      assert.equal(consentHolds(), true);
      read("a look before a request, with a file there");
      // An opt-out written in place, in the same second on a file system that dates files by the second: its time
      // as before.
      const { mtime } = statSync(file);
      writeFileSync(file, formatConsentToml("disabled", Date.now()));
      utimesSync(file, LONG_AGO, mtime);
      assert.equal(consentHolds(), false, "written since");
      read("a look at a file written since");
    });
  },
);

test(
  "a program that turned telemetry on over a consent file read as no (others may write it; a dotfile link): an opt-out written into it since stops it",
  {
    skip: process.platform === "win32" && "POSIX modes and links",
  },
  () => {
    using dir = tempDir();
    const file = `${dir.path}/telemetry.toml`;
    const dotfile = `${dir.path}/dotfiles/telemetry.toml`;
    mkdirSync(`${dir.path}/dotfiles`);
    const places: Record<string, { put: () => void; written: string }> = {
      "a file others may write": {
        put: () => (writeFileSync(file, formatConsentToml("enabled", Date.now())), chmodSync(file, 0o666)),
        written: file,
      },
      "a link to a dotfile": {
        put: () => (writeFileSync(dotfile, formatConsentToml("enabled", Date.now())), symlinkSync(dotfile, file)),
        written: dotfile,
      },
    };
    withConsentFileAt(file, () => {
      for (const [what, { put, written }] of Object.entries(places)) {
        rmSync(file, { force: true });
        put();
        assert.notEqual(effectiveConsent().fileProblem, undefined, `${what}: read as no at the start`);
        setTelemetryEnabled(true);
        assert.equal(consentHolds(), true, what);
        // The user's opt-out, written in place by hand (`disable` does not write through a link), within the second.
        const { mtime } = statSync(written);
        writeFileSync(written, formatConsentToml("disabled", Date.now()));
        utimesSync(written, mtime, mtime);
        assert.equal(consentHolds(), false, `${what}: written since`);
      }
    });
  },
);

test("on a file system that dates files by the second, a decision written in the second the program turned telemetry on stops it", async () => {
  const outcome = await heldThroughRewrite((file, original) => {
    const { mtime } = statSync(file); // a whole second (heldThroughRewrite)
    setTelemetryEnabled(true);
    // `mycli telemetry disable` in another shell within that second, and a file time that did not move.
    writeFileSync(file, formatConsentToml("disabled", Date.parse(/^# Saved (\S+)\.$/m.exec(original)![1])));
    utimesSync(file, mtime, mtime);
    assert.equal(optOutOverridden(), undefined, "the user's newer word, not a no the program overrides");
  });
  assert.deepEqual(outcome, { received: 0, dropped: { opted_out: 1 }, spooled: [], on: false });
});

test("a no written during a run that would hand off: nothing is written for a sender, not even its script", async () => {
  const outcome = await heldThroughRewrite((file) => {
    writeFileSync(file, formatConsentToml("disabled", Date.now())); // `mycli telemetry disable` in another shell
    const later = new Date(Date.now() + 1_000);
    utimesSync(file, later, later);
  }, { handOff: true });
  assert.deepEqual(outcome, { received: 0, dropped: { opted_out: 1 }, spooled: [], on: false });
});

test("the same decision saved again (a second enable, two programs asking at once) leaves the file as it is", () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const state = () => [readFileSync(file, "utf8"), statSync(file).mtimeMs, statSync(file).ino];
  try {
    assert.equal(recordConsent("enabled", file), true);
    const first = state();
    // A run at work elsewhere takes a file written anew for a new decision: this one is not.
    assert.equal(recordConsent("enabled", file), true, "the decision is on disk");
    assert.deepEqual(state(), first);
    assert.equal(recordConsent("disabled", file), true);
    assert.match(readFileSync(file, "utf8"), /consent = "disabled"/, "another decision is written");
    // One that others of the user's group may write (umask 002) is written again, owner-only: left, it could be
    // turned back by them.
    chmodSync(file, 0o660);
    assert.equal(recordConsent("disabled", file), true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  } finally {
    setTelemetryEnabled(false);
  }
});

test("mutated consent files read as tomllib reads them: same validity, same decision (property)", {
  skip: !canRun("python3", "-c", "import tomllib") && "needs python3 >= 3.11",
}, () => {
  const pieces = [..." \t\n\"'=[].,{}#\\ux0123456789abenlodistr_-+:TZ"];
  const mutation = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 2 }), fc.constantFrom(...pieces), fc.nat({ max: 8 }));
  const texts = fc.sample(
    fc.tuple(fc.constantFrom(...corpus.map((entry) => entry.text)), fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([text, edits]) =>
        edits.reduce((t, [at, kind, piece, length]) => {
          const i = at % (t.length + 1);
          return kind === 0
            ? t.slice(0, i) + piece + t.slice(i)
            : kind === 1
            ? t.slice(0, i) + t.slice(i + 1)
            : t.slice(0, i) + t.slice(length, length * 2) + t.slice(i);
        }, text)
      ),
    { numRuns: 1500, seed: 20261129 },
  );
  const oracle = new URL("./vectors/consent_decision.py", import.meta.url).pathname;
  const expected = JSON.parse(execFileSync("python3", [oracle], { input: JSON.stringify(texts), encoding: "utf8" }));
  const mismatches = texts.flatMap((text, i) => {
    const read = decisionOf(text);
    const ours = { decision: read.state, valid: read.problem !== "is not valid TOML" };
    return ours.decision === expected[i].decision && ours.valid === expected[i].valid
      ? []
      : [{ text, ours, tomllib: expected[i] }];
  });
  assert.deepEqual(mismatches.slice(0, 5), []);
});

test("a consent file that is not valid UTF-8 reads as disabled, with the reason (Python's tomllib rejects it)", () => {
  using dir = tempDir();
  const decision = '[telemetry]\nconsent = "enabled"\nprompt_version = "1.0"\n';
  const latin1 = `${dir.path}/latin1.toml`;
  writeFileSync(latin1, Buffer.concat([Buffer.from("# caf\xe9\n", "latin1"), Buffer.from(decision)]));
  assert.equal(readConsentFile(latin1), "disabled", "fail closed");
  const utf8 = `${dir.path}/utf8.toml`;
  writeFileSync(utf8, `# café\n${decision}`);
  assert.equal(readConsentFile(utf8), "enabled", "the same file in UTF-8 reads as its decision");
  let consent: ReturnType<typeof effectiveConsent> | undefined;
  withEnv({ NAT_TELEMETRY_CONSENT_FILE: latin1, NAT_TELEMETRY_ENABLED: undefined, DO_NOT_TRACK: undefined }, () => {
    consent = effectiveConsent();
  });
  assert.deepEqual([consent!.enabled, consent!.source, consent!.fileState], [false, "file", "disabled"]);
  assert.equal(consent!.fileProblem, "is not valid UTF-8 (Python's tomllib rejects it)");
  if (canRun("python3", "-c", "import tomllib")) {
    const script = "import sys, tomllib\ntry:\n  tomllib.load(open(sys.argv[1], 'rb')); print('read')\n" +
      "except Exception as e:\n  print(type(e).__name__)";
    assert.equal(execFileSync("python3", ["-c", script, latin1], { encoding: "utf8" }).trim(), "UnicodeDecodeError");
  }
});

test("a consent file that starts with a byte order mark reads as Python's tomllib reads it: not TOML, so disabled", () => {
  using dir = tempDir();
  const path = `${dir.path}/bom.toml`;
  writeFileSync(path, '\ufeff[telemetry]\nconsent = "enabled"\nprompt_version = "1.0"\n');
  // Every runtime keeps the mark in the text (Deno's TextDecoder dropped it, and read this file as enabled).
  assert.equal(readConsentFile(path), "disabled", "fail closed, as tomllib: Invalid statement (at line 1, column 1)");
  if (canRun("python3", "-c", "import tomllib")) {
    const script = "import sys, tomllib\ntry:\n  tomllib.load(open(sys.argv[1], 'rb')); print('read')\n" +
      "except Exception as e:\n  print(type(e).__name__)";
    assert.equal(execFileSync("python3", ["-c", script, path], { encoding: "utf8" }).trim(), "TOMLDecodeError");
  }
});
