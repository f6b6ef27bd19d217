import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import process from "node:process";
import * as nodeFs from "node:fs";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { CLIENT_VERSION, recordConsent } from "../mod.ts";
import { defaultSpoolDir, environmentSettings, fallbackSpoolDir, parseFlag } from "../src/config.ts";
import { guardedFiles } from "../src/runtime/guarded_files.ts";
import { host, runtimeInfo } from "../src/runtime/mod.ts";
import { nodeFiles } from "../src/runtime/node_files.ts";
import { spoolFallbackOf } from "../src/backlog.ts";
import { resolveOptions } from "../src/options.ts";
import { pythonJsonDumps } from "../src/python_json.ts";
import { pythonMachineName } from "../src/runtime/info.ts";
import { canRun, fixturePath, runChild, runtimeCommand, UNSET_PROXY_VARIABLES } from "./helpers/child.ts";
import { tempDir } from "./helpers/spool_dir.ts";
import { TestServer } from "./helpers/server.ts";

test("CLIENT_VERSION is kept equal to deno.json's version", () => {
  const { version } = JSON.parse(readFileSync(new URL("../deno.json", import.meta.url), "utf8"));
  assert.equal(CLIENT_VERSION, version);
});

test("flags: 1, true and yes (trimmed, any case) enable; any other value disables; unset is undefined", () => {
  for (const yes of ["1", "true", "yes", " YES ", "True", "\tyes\n"]) assert.equal(parseFlag(yes), true, yes);
  for (const no of ["", "0", "false", "no", "on", "enabled", "2"]) assert.equal(parseFlag(no), false, no);
  assert.equal(parseFlag(undefined), undefined);
});

test("the spool lives in NAT_TELEMETRY_SPOOL_DIR, else XDG_STATE_HOME, else the platform's place for state", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(
    defaultSpoolDir(env({ NAT_TELEMETRY_SPOOL_DIR: "/s", XDG_STATE_HOME: "/x", HOME: "/h" }), "linux"),
    "/s",
  );
  assert.equal(
    defaultSpoolDir(env({ NAT_TELEMETRY_SPOOL_DIR: "", HOME: "/h" }), "linux"),
    undefined,
    "empty: no spool",
  );
  assert.equal(defaultSpoolDir(env({ XDG_STATE_HOME: "/x", HOME: "/h" }), "linux"), "/x/nat/telemetry");
  assert.equal(defaultSpoolDir(env({ HOME: "/h" }), "linux"), "/h/.local/state/nat/telemetry");
  assert.equal(defaultSpoolDir(env({ HOME: "/h" }), "darwin"), "/h/Library/Application Support/nat/telemetry");
  assert.equal(defaultSpoolDir(env({ LOCALAPPDATA: "C:\\L" }), "win32"), "C:\\L\\nat\\telemetry");
  assert.equal(defaultSpoolDir(env({ USERPROFILE: "C:\\U" }), "win32"), "C:\\U\\AppData\\Local\\nat\\telemetry");
  assert.equal(defaultSpoolDir(env({}), "linux"), undefined, "no home: no spool");
  // A home or state directory given with a trailing slash, or the root (a container's HOME=/): one slash.
  assert.equal(defaultSpoolDir(env({ HOME: "/" }), "linux"), "/.local/state/nat/telemetry");
  assert.equal(defaultSpoolDir(env({ HOME: "/h/" }), "linux"), "/h/.local/state/nat/telemetry");
  assert.equal(defaultSpoolDir(env({ XDG_STATE_HOME: "/x//" }), "linux"), "/x/nat/telemetry");
});

test("where the platform's place cannot be used, the spool is kept in the temporary directory, under the user's id", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(fallbackSpoolDir(env({}), "linux", 1000), "/tmp/nat-telemetry-1000");
  assert.equal(fallbackSpoolDir(env({ TMPDIR: "/var/tmp/" }), "darwin", 501), "/var/tmp/nat-telemetry-501");
  assert.equal(fallbackSpoolDir(env({ TMPDIR: "tmp" }), "linux", 0), "/tmp/nat-telemetry-0", "a relative TMPDIR");
  const missing = (path: string) => path !== "/gone";
  assert.equal(fallbackSpoolDir(env({ TMPDIR: "/gone" }), "linux", 0, missing), "/tmp/nat-telemetry-0", "not made");
  assert.equal(fallbackSpoolDir(env({ TMPDIR: "/var/tmp" }), "linux", 0, missing), "/var/tmp/nat-telemetry-0");
  assert.equal(fallbackSpoolDir(env({}), "linux", undefined), undefined, "the user's id unknown");
  assert.equal(fallbackSpoolDir(env({ TEMP: "C:\\T" }), "win32", undefined), undefined, "Windows");
});

/** Runs `body`, which may set TMPDIR, then puts the variable back as it was. */
function keepingTmpdir(body: () => void): void {
  const before = process.env.TMPDIR;
  try {
    body();
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
}

test("the spool's fallback passes over a TMPDIR the system says the user may not write in: /tmp", {
  skip: process.platform === "win32" && "no fallback on Windows",
}, () => {
  using dir = tempDir();
  const user = { uid: process.getuid?.(), gid: process.getgid?.() };
  const raw = nodeFiles(nodeFs, user, false);
  // access(2) says no: a directory of another user's, a read-only mount (root may write in a 0500 one).
  const refusing = guardedFiles({ ...raw, usableDir: (path) => path === dir.path ? false : raw.usableDir(path) });
  const options = { ...resolveOptions({}), spoolFallback: true };
  keepingTmpdir(() => {
    process.env.TMPDIR = dir.path;
    assert.equal(spoolFallbackOf(options, guardedFiles(raw)), `${dir.path}/nat-telemetry-${user.uid}`);
    assert.equal(spoolFallbackOf(options, refusing), `/tmp/nat-telemetry-${user.uid}`);
  });
});

test(
  "the spool's fallback passes over a TMPDIR with no directory there (none, a file, a FIFO, a link to nothing): /tmp",
  {
    skip: process.platform === "win32" && "no fallback on Windows",
  },
  () => {
    using dir = tempDir();
    writeFileSync(`${dir.path}/file`, "");
    symlinkSync(`${dir.path}/nowhere`, `${dir.path}/dangling`);
    mkdirSync(`${dir.path}/real`);
    symlinkSync(`${dir.path}/real`, `${dir.path}/link`);
    symlinkSync("/dev/null", `${dir.path}/device`);
    execFileSync("mkfifo", [`${dir.path}/fifo`]);
    const files = host().files!;
    const options = { ...resolveOptions({}), spoolFallback: true };
    keepingTmpdir(() => {
      for (
        const [name, parent] of [
          ["none", "/tmp"],
          ["file", "/tmp"],
          ["fifo", "/tmp"],
          ["device", "/tmp"],
          ["dangling", "/tmp"],
          ["real"],
          ["link"],
        ]
      ) {
        process.env.TMPDIR = `${dir.path}/${name}`;
        const expected = `${parent ?? process.env.TMPDIR}/nat-telemetry-${files.uid}`;
        assert.equal(spoolFallbackOf(options, files), expected, name);
      }
    });
  },
);

test("cpuArchitecture is spelled as Python's platform.machine() would", () => {
  assert.equal(pythonMachineName("linux", "x64"), "x86_64");
  assert.equal(pythonMachineName("linux", "x86_64"), "x86_64");
  assert.equal(pythonMachineName("linux", "arm64"), "aarch64");
  assert.equal(pythonMachineName("darwin", "arm64"), "arm64");
  assert.equal(pythonMachineName("win32", "x64"), "AMD64");
  assert.equal(pythonMachineName("windows", "aarch64"), "ARM64");
  const linux: [string, string][] = [
    ["x64", "x86_64"],
    ["arm64", "aarch64"],
    ["ppc64", "ppc64le"],
    ["s390x", "s390x"],
    ["riscv64", "riscv64"],
    ["loong64", "loongarch64"],
    ["arm", "armv7l"],
    ["ia32", "i686"],
  ];
  for (const [arch, machine] of linux) assert.equal(pythonMachineName("linux", arch), machine, arch);
  assert.equal(pythonMachineName("freebsd", "x64"), "amd64");
  assert.match(runtimeInfo().machine, /^(x86_64|aarch64|arm64|AMD64|ARM64)$/);
  if (canRun("python3", "--version")) {
    const python = execFileSync("python3", ["-c", "import platform; print(platform.machine())"], { encoding: "utf8" });
    assert.equal(runtimeInfo().machine, python.trim(), "what Python says on this machine");
  }
});

async function settings(env: Record<string, string | undefined>, endpointOption?: string) {
  const result = await runChild("settings_child.ts", {
    env,
    args: endpointOption === undefined ? [] : [endpointOption],
  });
  assert.equal(result.code, 0, result.stderr);
  return { ...JSON.parse(result.stdout), stderr: result.stderr };
}

test("NAT_TELEMETRY_ENABLED sets the initial flag in a fresh process; unset means off", async () => {
  const on = await settings({ NAT_TELEMETRY_ENABLED: " Yes ", NAT_TELEMETRY_ENDPOINT: "" });
  assert.equal(on.enabled, true);
  assert.equal(on.stats.enqueued, 1);
  // No consent file, whatever the machine's user decided: unset means off.
  const noFile = `${tmpdir()}/nat-telemetry-no-such-dir/telemetry.toml`;
  for (const value of ["", "off", undefined]) {
    const off = await settings({
      NAT_TELEMETRY_ENABLED: value,
      NAT_TELEMETRY_ENDPOINT: "",
      NAT_TELEMETRY_CONSENT_FILE: noFile,
    });
    assert.equal(off.enabled, false, `NAT_TELEMETRY_ENABLED=${value}`);
    assert.equal(off.stats.enqueued, 0);
  }
});

test("a variable set to bytes that are not UTF-8 lets in nothing it could keep out: opt-outs, endpoint, home, proxy", async () => {
  using dir = tempDir();
  const consentFile = `${dir.path}/telemetry.toml`;
  assert.equal(recordConsent("enabled", consentFile), true);
  // Where a home read as U+FFFD alone, a relative path, would lead from the working directory: a "yes" never read.
  const work = `${dir.path}/work`;
  assert.equal(recordConsent("enabled", `${work}/\uFFFD/.config/nat/telemetry.toml`), true);
  const server = await TestServer.start();
  try {
    // The shell puts the byte 0xFF in the variable: no runtime can spawn a child with bytes that are not UTF-8.
    const withBytes = async (name: string, printfFormat: string, env: Record<string, string | undefined> = {}) => {
      const result = await runChild("settings_child.ts", {
        executable: "/bin/sh",
        args: [
          "-c",
          `${name}="$(printf '${printfFormat}')" exec "$@"`,
          "sh",
          ...runtimeCommand(fixturePath("settings_child.ts")),
        ],
        cwd: work,
        env: {
          NAT_TELEMETRY_CONSENT_FILE: consentFile,
          NAT_TELEMETRY_ENABLED: undefined,
          DO_NOT_TRACK: undefined,
          NAT_TELEMETRY_ENDPOINT: server.url(),
          NAT_TELEMETRY_DEBUG: "1",
          ...UNSET_PROXY_VARIABLES,
          ...env,
        },
      });
      assert.equal(result.code, 0, result.stderr);
      return { ...JSON.parse(result.stdout), stderr: result.stderr };
    };
    const control = await withBytes("NAT_UNRELATED", "x");
    assert.equal(control.enabled, true, "the consent file says yes");
    assert.equal(control.stats.sent, 1, "and the event is sent");
    assert.equal((await withBytes("DO_NOT_TRACK", "1\\377")).enabled, false, "DO_NOT_TRACK opts out");
    assert.equal((await withBytes("NAT_TELEMETRY_ENABLED", "0\\377")).enabled, false, "NAT_TELEMETRY_ENABLED opts out");
    // The README's program, which turns telemetry on where the user decided nothing: a home that cannot be read may
    // hold the user's no, so the consent file is one that cannot be found, and nothing is made beside the home.
    const home = await withBytes("HOME", `${dir.path}/jos\\351`, {
      NAT_TELEMETRY_CONSENT_FILE: undefined,
      NAT_TEST_PROGRAM_ON: "1",
      NAT_TELEMETRY_SPOOL_DIR: undefined,
    });
    assert.equal(home.enabled, false, "no consent file is found, none beside the working directory");
    assert.equal(home.decidedBy, "file", "read as the file's no, not as undecided");
    assert.equal(home.stats.enqueued, 0);
    // Looked for by find(1): Deno's readdir would read the home's own name, where its runtime keeps a cache, as this.
    const made = execFileSync("find", [dir.path, "-maxdepth", "1", "-name", "jos\uFFFD"], { encoding: "utf8" });
    assert.equal(made, "", "nothing made beside that home, named as Node.js and Bun read its name");
    const file = await withBytes("NAT_TELEMETRY_CONSENT_FILE", `${dir.path}/consent\\351.toml`, {
      NAT_TEST_PROGRAM_ON: "1",
    });
    assert.equal(file.decidedBy, "file", "a consent file's path that cannot be read: the file's no");
    assert.equal(file.stats.enqueued, 0);
    const endpoint = await withBytes("NAT_TELEMETRY_ENDPOINT", "http://127.0.0.1:9/\\377");
    assert.doesNotMatch(endpoint.stderr, /events\.telemetry\.data\.nvidia\.com/, "never the default endpoint");
    assert.equal(endpoint.stats.sent, 0);
    const proxy = await withBytes("HTTP_PROXY", "http://proxy.invalid\\377:3128");
    assert.equal(proxy.stats.sent, 0, "never around the proxy");
    assert.equal(server.requests.length, 1, "the control's request alone");
  } finally {
    await server.close();
  }
});

test("NAT_TELEMETRY_ENDPOINT=stdout writes each batch as one JSON line to stderr, nothing to stdout, no network", async () => {
  const result = await settings({
    NAT_TELEMETRY_ENABLED: "1",
    NAT_TELEMETRY_ENDPOINT: "stdout",
    NAT_SESSION_PREFIX: "ci-",
  });
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1);
  const envelope = JSON.parse(lines[0]);
  assert.equal(envelope.sessionId, "ci-sess", "NAT_SESSION_PREFIX is prepended");
  assert.equal(envelope.events[0].parameters.command, "settings");
  assert.equal(result.stats.sent, 1);
});

test("NAT_TELEMETRY_ENDPOINT=stdout prints what is pending at an exit that cannot wait, as it would at any other", async () => {
  for (const mode of ["exit", "track-exit"]) {
    const result = await runChild("exit_child.ts", {
      args: [mode],
      env: { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: "stdout", NAT_TELEMETRY_SPOOL_DIR: "" },
    });
    assert.equal(result.stdout, "", "nothing on standard output");
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${mode}: ${result.stderr}`);
    assert.equal(JSON.parse(lines[0]).events.length, 1, mode);
  }
});

const hasPython = canRun("python3", "--version");

test("the stdout sink prints the bytes Python's json.dumps prints for the same envelope, even in a dry run", async () => {
  const result = await settings({
    NAT_TELEMETRY_ENABLED: "1",
    NAT_TELEMETRY_ENDPOINT: "stdout",
    NAT_TELEMETRY_DRY_RUN: "1",
    NAT_TEST_COMMAND: "réglages ✓ 😀",
  });
  const [line] = result.stderr.trim().split("\n");
  assert.match(line, /^\{"browserType": "undefined", "clientId": /);
  assert.match(line, /"command": "r\\u00e9glages \\u2713 \\ud83d\\ude00"/);
  assert.equal(result.stats.sent, 1, "printed, as the Python tool prints, though NAT_TELEMETRY_DRY_RUN is set");
  if (hasPython) {
    const python = execFileSync(
      "python3",
      ["-c", "import json, sys; print(json.dumps(json.loads(sys.stdin.read())))"],
      {
        input: line,
        encoding: "utf8",
      },
    );
    assert.equal(line, python.trim(), "byte for byte what Python prints");
  }
});

test("pythonJsonDumps spells numbers, strings and nesting as Python's json.dumps", () => {
  const value = {
    a: [1, -3.5, 2.5e-7, 1e-5, 0.0001, 123456789.125, 1e16, 1e22],
    b: 'é😀\u007f\u001f\n"/',
    c: { d: true, e: null },
  };
  const expected =
    '{"a": [1, -3.5, 2.5e-07, 1e-05, 0.0001, 123456789.125, 1e+16, 1e+22], "b": "\\u00e9\\ud83d\\ude00\\u007f\\u001f\\n\\"/", "c": {"d": true, "e": null}}';
  assert.equal(pythonJsonDumps(value), expected);
  if (hasPython) {
    const script = "import json; print(json.dumps({'a': [1, -3.5, 2.5e-7, 1e-5, 0.0001, 123456789.125, 1e16, 1e22], " +
      "'b': '\u00e9\\U0001f600\x7f\x1f\\n\"/', 'c': {'d': True, 'e': None}}))";
    assert.equal(execFileSync("python3", ["-c", script], { encoding: "utf8" }).trim(), expected);
  }
});

test("NAT_TELEMETRY_ENDPOINT is read at construction; the endpoint option wins over it", async () => {
  const server = await TestServer.start();
  try {
    const fromEnv = await settings({ NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: server.url("/env") });
    assert.equal(fromEnv.stats.sent, 1);
    const fromOption = await settings(
      { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: server.url("/env") },
      server.url("/option"),
    );
    assert.equal(fromOption.stats.sent, 1);
    assert.deepEqual(server.requests.map((request) => request.path), ["/env", "/option"]);
  } finally {
    await server.close();
  }
});

test("an empty NAT_TELEMETRY_ENDPOINT or NAT_TELEMETRY_DRY_RUN builds payloads and sends nothing, silently", async () => {
  const server = await TestServer.start();
  try {
    const empty = await settings({ NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: "" });
    const dry = await settings({
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_ENDPOINT: server.url(),
      NAT_TELEMETRY_DRY_RUN: "true",
    });
    for (const result of [empty, dry]) {
      assert.deepEqual(result.stats.dropped, { dry_run: 1 });
      assert.equal(result.stderr, "");
    }
    assert.equal(server.requests.length, 0);
  } finally {
    await server.close();
  }
});

test("a malformed NAT_TELEMETRY_ENDPOINT turns delivery off instead of breaking the host", async () => {
  const result = await settings({ NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: "not a url" });
  assert.deepEqual(result.stats.dropped, { invalid_endpoint: 1 });
  assert.equal(result.stderr, "");
});

const onlyDeno = { skip: runtimeInfo().name !== "deno" && "Deno permissions only" };

test("under Deno without --allow-env, telemetry is quietly off: no prompt, no error", onlyDeno, async () => {
  const result = await runChild("settings_child.ts", {
    env: { NAT_TELEMETRY_ENABLED: "1" },
    denoFlags: ["--allow-read", "--no-prompt"],
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).enabled, false);
  assert.equal(result.stderr, "");
});

/** Every variable the settings read, unset, so that the machine's own environment does not leak into a test. */
const SETTINGS_VARIABLES = [
  "NAT_TELEMETRY_ENABLED",
  "NAT_TELEMETRY_ENDPOINT",
  "NAT_TELEMETRY_DRY_RUN",
  "NAT_TELEMETRY_FORMAT",
  "NAT_TELEMETRY_HANDOFF",
  "NAT_TELEMETRY_SPOOL_DIR",
  "NAT_SESSION_PREFIX",
  "XDG_STATE_HOME",
  "OTEL_EXPORTER_OTLP_HEADERS",
  "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
  "OTEL_RESOURCE_ATTRIBUTES",
];

/** The settings read with these variables set (and the others of {@link SETTINGS_VARIABLES} unset). */
function settingsWith(vars: Record<string, string>): ReturnType<typeof environmentSettings> {
  const all = { ...Object.fromEntries(SETTINGS_VARIABLES.map((name) => [name, undefined])), ...vars };
  const saved = Object.fromEntries(Object.keys(all).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(all);
  try {
    return environmentSettings();
  } finally {
    apply(saved);
  }
}

test("an endpoint variable with an '@' past its host (a key's '/' or '#', not percent-encoded) is told so, masked", () => {
  const cutShort = "has an '@' past its host: a key with a '/', '?' or '#' in it, not percent-encoded (%2F, %3F, " +
    "%23), would make a part of it the host";
  const settings = settingsWith({
    NAT_TELEMETRY_ENDPOINT: "https://S3CRETa+B9/cD4=@collector.example/v1",
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://ada:2024#S3CRET@collector.example",
  });
  assert.deepEqual(settings.problems, [
    `NAT_TELEMETRY_ENDPOINT="https://***@collector.example/v1" ${cutShort}: nothing is sent`,
    `OTEL_EXPORTER_OTLP_ENDPOINT="http://***@collector.example" ${cutShort}: OTLP events are not sent`,
  ]);
  assert.deepEqual(settings.problemsAbout.endpoint, settings.problems, "both are moot where the program names one");
});

test("values the environment sets that are not understood are listed as problems, one line each, and break nothing", () => {
  const settings = settingsWith({
    NAT_TELEMETRY_ENABLED: "maybe",
    NAT_TELEMETRY_FORMAT: "xml",
    NAT_TELEMETRY_ENDPOINT: "ftp://x",
    NAT_TELEMETRY_HANDOFF: "perhaps",
    NAT_TELEMETRY_DRY_RUN: "on",
    NAT_TELEMETRY_SPOOL_DIR: "relative/spool",
    OTEL_EXPORTER_OTLP_HEADERS:
      "bad%20name=v,x-good=ok,x-bad-value=a%0Ab,novalue,=empty,Content-Length=3,Authorization: Basic YWRhOlMzQ1JFVA==",
    HOME: "/home/ada",
  });
  // A name is not quoted: one written `Authorization: Basic ...=` is taken up to its first `=`, key and all.
  const nameNotShown = "OTEL_EXPORTER_OTLP_HEADERS: an entry's name is not a header name (an RFC 9110 token; not " +
    "shown, as it may hold a key, where an entry is written `Name: value` rather than `Name=value`): skipped, not sent";
  assert.deepEqual(settings.problems, [
    'NAT_TELEMETRY_ENABLED="maybe" is not a yes/no value (1, true, yes / 0, false, no): read as no, ' +
    "so telemetry is off and nothing is asked",
    'NAT_TELEMETRY_DRY_RUN="on" is not a yes/no value (1, true, yes / 0, false, no): read as no, so events are sent',
    'NAT_TELEMETRY_ENDPOINT="ftp://x" is not an http(s) URL, "" or "stdout": nothing is sent',
    'NAT_TELEMETRY_FORMAT="xml" is not a format (nat, otlp): the nat envelope is sent',
    'NAT_TELEMETRY_HANDOFF="perhaps" is not a yes/no value (1, true, yes / 0, false, no): read as no, ' +
    "so events are delivered in process at exit",
    'NAT_TELEMETRY_SPOOL_DIR="relative/spool" is not an absolute path: no spool is kept',
    "OTEL_EXPORTER_OTLP_HEADERS: entry 4 is not key=value: skipped",
    "OTEL_EXPORTER_OTLP_HEADERS: entry 5 is not key=value: skipped",
    nameNotShown,
    'OTEL_EXPORTER_OTLP_HEADERS: the value of "x-bad-value" is not a header value (RFC 9110, visible ASCII: no ' +
    "control characters, no leading or trailing space): skipped, not sent",
    'OTEL_EXPORTER_OTLP_HEADERS: "Content-Length" is the HTTP client\'s to set: skipped, not sent',
    nameNotShown,
  ]);
  for (const problem of settings.problems) assert.doesNotMatch(problem, /\n/, "one line each");
  assert.doesNotMatch(settings.problems.join("\n"), /a\nb|=v\b|YWRh/, "header values are never repeated");
  assert.deepEqual(settings.otlpHeaders, { "x-good": "ok" }, "only valid headers are kept");
  assert.equal(settings.spoolDir, undefined, "a relative spool directory means no spool");
  assert.deepEqual([settings.dryRun, settings.handOff, settings.format], [false, false, "xml"], "read as documented");
  // Each problem about a variable an option replaces is that option's, whatever its words (the debug trail leaves
  // them out where the program gives the option); the others are no option's.
  assert.deepEqual(settings.problemsAbout, {
    endpoint: [settings.problems[2]],
    format: [settings.problems[3]],
    handOff: [settings.problems[4]],
    spoolDir: [settings.problems[5]],
  });
});

test("a relative home directory is told for the consent file below it as for the spool", () => {
  const settings = settingsWith({ HOME: "home/ada", NAT_TELEMETRY_CONSENT_FILE: "" });
  assert.deepEqual(settings.problems, [
    'NAT_TELEMETRY_CONSENT_FILE is not set and the home directory, "home/ada", is not an absolute path: the consent ' +
    "file below it is relative, and it is read in the working directory where a run first reads it, so each " +
    "directory may hold another decision",
    "the home directory is not an absolute path: no spool is kept there",
  ]);
  // A consent file named, absolute: the home directory is the spool's concern alone.
  const named = settingsWith({ HOME: "home/ada", NAT_TELEMETRY_CONSENT_FILE: "/etc/nat/telemetry.toml" });
  assert.deepEqual(named.problems, ["the home directory is not an absolute path: no spool is kept there"]);
  // The spool's is moot where the program names its spool; the consent file's never is.
  assert.deepEqual(settings.problemsAbout, { endpoint: [], format: [], handOff: [], spoolDir: [settings.problems[1]] });
});

test("values that are understood are no problem", () => {
  const understood: Record<string, string>[] = [
    { NAT_TELEMETRY_ENABLED: "0", NAT_TELEMETRY_HANDOFF: "off", NAT_TELEMETRY_DRY_RUN: "" },
    { NAT_TELEMETRY_ENABLED: " Yes ", NAT_TELEMETRY_HANDOFF: "TRUE", NAT_TELEMETRY_DRY_RUN: "no" },
    { NAT_TELEMETRY_FORMAT: " OTLP ", NAT_TELEMETRY_ENDPOINT: "stdout", OTEL_EXPORTER_OTLP_HEADERS: "a=1,,b=2," },
    { NAT_TELEMETRY_ENDPOINT: "", NAT_TELEMETRY_SPOOL_DIR: "", XDG_STATE_HOME: "/state" },
    { NAT_TELEMETRY_ENDPOINT: "https://example.com/events", NAT_TELEMETRY_SPOOL_DIR: "/var/spool/x" },
  ];
  for (const vars of understood) {
    assert.deepEqual(settingsWith(vars).problems, [], JSON.stringify(vars));
  }
  const relativeState = settingsWith({ XDG_STATE_HOME: "state", HOME: "/home/ada" });
  assert.equal(relativeState.spoolDir, "/home/ada/.local/state/nat/telemetry", "a relative XDG_STATE_HOME is ignored");
  assert.match(relativeState.problems.join("\n"), /^XDG_STATE_HOME="state" is not an absolute path: ignored/);
});

test("an OTEL_EXPORTER_OTLP_HEADERS entry that is not a valid header, or frames the request, is skipped; delivery goes on", async () => {
  const server = await TestServer.start();
  try {
    const result = await settings({
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_FORMAT: "otlp",
      NAT_TELEMETRY_ENDPOINT: server.url(),
      OTEL_EXPORTER_OTLP_HEADERS:
        "bad%20name=v,x-good=ok,x-crlf=a%0D%0AInjected:%201,Transfer-Encoding=chunked,host=elsewhere.example",
    });
    assert.equal(result.stats.sent, 1, `delivered: ${JSON.stringify(result.stats)}`);
    const [request] = server.requests;
    assert.equal(request.headers["x-good"], "ok");
    assert.equal(request.headers["injected"], undefined);
    assert.equal(request.headers["x-crlf"], undefined);
    assert.ok(!Object.keys(request.headers).some((name) => name.includes("bad")), "the bad name is not sent");
    assert.notEqual(request.headers["host"], "elsewhere.example", "the client names the host it connects to");
    assert.notEqual(request.headers["transfer-encoding"], "chunked", "the client frames the request");
  } finally {
    await server.close();
  }
});

test("OTEL_RESOURCE_ATTRIBUTES: only what names the service is kept; the rest is told by key, never by value", () => {
  const settings = settingsWith({
    OTEL_RESOURCE_ATTRIBUTES: "service.namespace=tools,host.name=ada-laptop,user.name=ada,service.version=2," +
      "service.instance.id=5f1e,deployment.environment.name=prod,cloud.account.id=1234,service.node.name=ada-pc," +
      "service.Instance.id=5f1f",
  });
  assert.deepEqual(settings.otlpResource, {
    "service.namespace": "tools",
    "service.version": "2",
    "deployment.environment.name": "prod",
  });
  assert.deepEqual(settings.problems, [
    'OTEL_RESOURCE_ATTRIBUTES: "host.name", "user.name", "service.instance.id", "cloud.account.id", ' +
    '"service.node.name", "service.Instance.id": not sent, as ' +
    "it may say who or which machine sends (only the service's names and its deployment's environment are)",
  ]);
});
