/**
 * NAT_TELEMETRY_DEBUG=1: one line per decision and per request on standard
 * error, nothing on standard output, delivery as usual. Child processes per
 * runtime, a real loopback endpoint.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { symlinkSync, writeFileSync } from "node:fs";
import { maskUrls } from "../src/describe.ts";
import { shortHash } from "../src/hash.ts";
import { runtimeInfo } from "../src/runtime/mod.ts";
import { canRun, fixturePath, runChild, runtimeCommand } from "./helpers/child.ts";
import { commands } from "./helpers/events.ts";
import { TestServer } from "./helpers/server.ts";
import { spooled, tempDir } from "./helpers/spool_dir.ts";

const runtime = runtimeInfo().name;

test(`${runtime}: NAT_TELEMETRY_DEBUG=1 traces every decision, request, answer and drop on stderr only`, async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 200 }));
  try {
    // With credentials in the URL: the trail masks the password.
    const endpoint = server.url().replace("http://", "http://ingest:t0ken@");
    const run = await runChild("debug_child.ts", {
      env: {
        NAT_TELEMETRY_DEBUG: "1",
        NAT_TELEMETRY_ENABLED: "1",
        NAT_TELEMETRY_ENDPOINT: endpoint,
        NAT_TELEMETRY_SPOOL_DIR: dir.path,
      },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "", "nothing on standard output");
    assert.deepEqual(commands(server.events()), ["traced"], "delivery goes on as usual");
    const lines = run.stderr.trim().split("\n");
    assert.ok(lines.every((line) => line.startsWith("[nat-telemetry] ")), run.stderr);
    const trail = lines.join("\n");
    assert.match(trail, /telemetry on \(decided by NAT_TELEMETRY_ENABLED\)/);
    assert.match(
      trail,
      new RegExp(
        `endpoint: ${endpoint.replace("ingest:t0ken", "\\*\\*\\*:\\*\\*\\*")}; format: nat; spool: ${dir.path}`,
      ),
    );
    assert.doesNotMatch(trail, /t0ken/);
    assert.match(trail, /dropped 1 event\(s\): invalid_event \(Event 'any_event' parameter 'command' is not/);
    assert.match(
      trail,
      /at exit: delivering in process: the hand-off is off \(NAT_TELEMETRY_HANDOFF\); the exit waits at most \d+(\.\d+)? s/,
    );
    assert.match(trail, /sending 1 event\(s\) to .*: \{.*"command":"traced".*\}/);
    assert.match(trail, /answer for 1 event\(s\): delivered/);
  } finally {
    await server.close();
  }
});

test(`${runtime}: the trail names the user's variables it cannot use, and what keeps the events, not the hand-off`, async () => {
  const variables = {
    NAT_TELEMETRY_DEBUG: "1",
    NAT_TELEMETRY_ENABLED: "1",
    NAT_TELEMETRY_ENDPOINT: "localhost:4318",
    NAT_TELEMETRY_SPOOL_DIR: "rel/dir",
    NAT_TELEMETRY_HANDOFF: "maybe",
    NAT_TELEMETRY_FORMAT: "xml",
  };
  const run = await runChild("debug_child.ts", { env: variables });
  assert.equal(run.code, 0, run.stderr);
  const environment = "\\[nat-telemetry\\] environment: ";
  assert.match(
    run.stderr,
    new RegExp(`${environment}NAT_TELEMETRY_ENDPOINT="localhost:4318" is not an http\\(s\\) URL`),
  );
  assert.match(run.stderr, new RegExp(`${environment}NAT_TELEMETRY_SPOOL_DIR="rel/dir" is not an absolute path`));
  assert.match(run.stderr, new RegExp(`${environment}NAT_TELEMETRY_HANDOFF="maybe"`));
  assert.match(run.stderr, new RegExp(`${environment}NAT_TELEMETRY_FORMAT="xml" is not a format`));
  // With no endpoint, the hand-off being off (as "maybe" reads) is not why nothing is delivered.
  assert.match(run.stderr, /at exit: not delivered: the events do not go to an HTTP endpoint/);
  assert.doesNotMatch(run.stderr, /hand-off is off/);
  // Where the program's options take the variables' place, what they hold changes nothing, and is not told.
  const overridden = await runChild("debug_child.ts", {
    env: { ...variables, NAT_TEST_OPTIONS: '{"endpoint":"","spoolDir":false,"format":"nat","handOff":false}' },
  });
  assert.equal(overridden.code, 0, overridden.stderr);
  assert.match(overridden.stderr, /endpoint: nowhere \(dry_run\); format: nat; spool: none/);
  assert.doesNotMatch(overridden.stderr, /environment: /);
  // A blank format is none: the variable decides, and what it holds is told.
  const blank = await runChild("debug_child.ts", { env: { ...variables, NAT_TEST_OPTIONS: '{"format":" "}' } });
  assert.match(blank.stderr, new RegExp(`${environment}NAT_TELEMETRY_FORMAT="xml" is not a format`));
});

test(`${runtime}: with telemetry off, the trail says so once and nothing else happens`, async () => {
  const run = await runChild("debug_child.ts", {
    env: { NAT_TELEMETRY_DEBUG: "1", NAT_TELEMETRY_ENABLED: "0", NAT_TELEMETRY_ENDPOINT: "http://127.0.0.1:9/e" },
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "");
  assert.equal(
    run.stderr,
    "[nat-telemetry] telemetry off (decided by NAT_TELEMETRY_ENABLED): events are not recorded\n",
  );
});

test(`${runtime}: a consent file read as "no" because it cannot be read with certainty: the trail says why`, async () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/elsewhere.toml`, '[telemetry]\nconsent = "enabled"\nprompt_version = "1.0"\n');
  symlinkSync(`${dir.path}/elsewhere.toml`, `${dir.path}/telemetry.toml`);
  const run = await runChild("debug_child.ts", {
    env: { NAT_TELEMETRY_DEBUG: "1", NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/telemetry.toml` },
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stderr,
    /^\[nat-telemetry\] telemetry off \(decided by file: the consent file .*, so it is read as disabled\): events are not recorded$/m,
  );
});

test(`${runtime}: the trail names the program as what decided, where it turned telemetry the other way`, async () => {
  const env = { NAT_TELEMETRY_DEBUG: "1", NAT_TELEMETRY_ENDPOINT: "" };
  const on = await runChild("debug_child.ts", { env: { ...env, DO_NOT_TRACK: "1", NAT_TEST_SET_ENABLED: "1" } });
  assert.match(on.stderr, /^\[nat-telemetry\] telemetry on \(decided by the program \(setTelemetryEnabled\)\)$/m);
  const off = await runChild("debug_child.ts", {
    env: { ...env, NAT_TELEMETRY_ENABLED: "1", NAT_TEST_SET_ENABLED: "0" },
  });
  assert.match(off.stderr, /telemetry off \(decided by the program \(setTelemetryEnabled\)\): events are not recorded/);
});

test(`${runtime}: trackCommand with telemetry off says so in the trail, once, and runs the command`, async () => {
  const run = await runChild("track_child.ts", {
    args: ["return", "4"],
    env: { NAT_TELEMETRY_DEBUG: "1", NAT_TELEMETRY_ENABLED: "0" },
  });
  assert.equal(run.code, 4);
  assert.equal(
    run.stderr,
    "[nat-telemetry] telemetry off (decided by NAT_TELEMETRY_ENABLED): the command is not recorded\n",
  );
  // A value it does not understand reads as no, and the trail says so, as `status` does.
  const on = await runChild("track_child.ts", {
    args: ["return", "0"],
    env: { NAT_TELEMETRY_DEBUG: "1", NAT_TELEMETRY_ENABLED: "on" },
  });
  assert.match(on.stderr, /decided by NAT_TELEMETRY_ENABLED="on" is not a yes\/no value \(.*\): read as no\)/);
});

/** A traced run whose exit delivers in process, to an endpoint that refuses connections, spooling in `spool`. */
const tracedInProcess = (spool: string) => ({
  NAT_TELEMETRY_DEBUG: "1",
  NAT_TELEMETRY_ENABLED: "1",
  NAT_TELEMETRY_ENDPOINT: "http://127.0.0.1:9/events",
  NAT_TELEMETRY_SPOOL_DIR: spool,
  NAT_TELEMETRY_HANDOFF: "0",
});

test(`${runtime}: an exit that cannot wait says in the trail that the events were spooled, not delivered`, async () => {
  using dir = tempDir();
  const run = await runChild("exit_child.ts", {
    args: ["exit"],
    env: tracedInProcess(dir.path),
  });
  assert.equal(run.code, 3);
  assert.match(run.stderr, /at exit: not handed off: the hand-off is off \(NAT_TELEMETRY_HANDOFF\)\n/);
  assert.doesNotMatch(run.stderr, /delivering in process|the exit waits/, "nothing waits: the process ends now");
  assert.match(
    run.stderr,
    /\[nat-telemetry\] at exit: the process ends at once: 1 event\(s\) spooled for a later run\n$/,
  );
});

test(`${runtime}: the trail says what a program's own fetch threw, where it keeps its events for later`, async () => {
  using dir = tempDir();
  const run = await runChild("handler_child.ts", {
    args: ["stop-throwing-fetch", "http://ada:s3cret@127.0.0.1:9/events"],
    env: {
      NAT_TELEMETRY_DEBUG: "1",
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_SPOOL_DIR: dir.path,
      NAT_TEST_OPTIONS: JSON.stringify({ headers: { "x-api-key": "k-HDRs3cret99" } }),
    },
    // What it threw ends with a word of 300 KB: the masking, looking for a URL from each of its letters, took
    // 15-35 s before the trail's line was written (the exit budget cannot cut what runs synchronously).
    limitMs: 20_000,
  });
  assert.equal(run.code, 0, run.stderr.slice(0, 2000));
  // The URL it quotes is masked, as everywhere in the trail, and so are the headers it was given.
  assert.match(
    run.stderr,
    /answer for 1 event\(s\): retry \(network_error: its fetch failed: no signing key for http:\/\/\*\*\*:\*\*\*@127/,
  );
  assert.match(run.stderr, /with \{"x-api-key":"\*\*\*"/);
  assert.doesNotMatch(run.stderr, /s3cret/);
});

test("what a program's fetch threw is masked with the endpoint's secrets in any case of percent-escape and as JSON quotes them", () => {
  const url = "http://ada:p%2Fss%22w0rd@127.0.0.1:9/events?tenant=acme-corp-42";
  const threw = [
    "no key for ada:p%2fss%22w0rd (lower-case escapes)",
    'config {"password":"p/ss\\"w0rd","tenant":"acme-corp-42"}',
    'decoded: p/ss"w0rd',
  ].join("; ");
  const masked = maskUrls(threw, url);
  assert.equal(
    masked,
    'no key for ada:*** (lower-case escapes); config {"password":"***","tenant":"***"}; decoded: ***',
  );
  // A user name shorter than 4 characters is not masked (it would be wherever it is); nor is what is not a secret.
  assert.equal(maskUrls("p%2fss is not the password", url), "p%2fss is not the password");
});

test("what a program's fetch threw is masked with the values of the headers it was given, whole, quoted and each token", () => {
  const headers = { "x-api-key": 'k-0123"456789', authorization: "Bearer eyJhbGciOiJIUzI1NiJ9", accept: "*/*" };
  const threw = `cannot send with ${JSON.stringify(headers)}; token eyJhbGciOiJIUzI1NiJ9 expired; raw k-0123"456789`;
  assert.equal(
    maskUrls(threw, "http://127.0.0.1:9/e", headers),
    'cannot send with {"x-api-key":"***","authorization":"***","accept":"*/*"}; token *** expired; raw ***',
  );
});

test(`${runtime}: a dry run that ends through exit() drops its event for that, once, and spools nothing`, async () => {
  using dir = tempDir();
  const run = await runChild("exit_child.ts", {
    args: ["track-exit"],
    env: { ...tracedInProcess(dir.path), NAT_TELEMETRY_DRY_RUN: "1" },
  });
  assert.equal(run.code, 4, run.stderr);
  assert.match(run.stderr, /dropped 1 event\(s\): dry_run/);
  assert.doesNotMatch(run.stderr, /spool_unavailable/);
  assert.equal(run.stderr.split("at exit: not delivered").length, 2, run.stderr);
  assert.deepEqual(spooled(dir.path), []);
});

test(`${runtime}: a run that spools because its endpoint is down says so first, whatever else keeps it in process`, async () => {
  using dir = tempDir();
  const down = { failures: 3, notBefore: Date.now() + 3_600_000 };
  writeFileSync(`${dir.path}/health-${shortHash("http://127.0.0.1:9/events")}.json`, JSON.stringify(down), {
    mode: 0o600,
  });
  const run = await runChild("debug_child.ts", { env: tracedInProcess(dir.path) });
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stderr,
    /at exit: spooled for a later run: the endpoint is down \(3 failure\(s\) in a row\): not tried before \S+; in process, as /,
  );
});

test(`${runtime}: a command that never settles is recorded once as the process ends, and the trail says so once`, async () => {
  using dir = tempDir();
  const run = await runChild("track_child.ts", {
    args: ["never", "0"],
    env: tracedInProcess(dir.path),
  });
  assert.equal(run.code, 0, run.stderr);
  const trail = run.stderr.trim().split("\n");
  assert.equal(trail.filter((line) => line.includes("telemetry on (decided by")).length, 1, run.stderr);
  assert.equal(trail.filter((line) => line.includes("spooled for a later run")).length, 1, run.stderr);
  const recorded = spooled(dir.path).map((line) => line.event.parameters);
  assert.deepEqual(recorded.map(({ taskStatus, exitCode }) => [taskStatus, exitCode]), [["success", 0]]);
});

test(`${runtime}: without NAT_TELEMETRY_DEBUG nothing is written at all`, async () => {
  const run = await runChild("debug_child.ts", {
    env: { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: "http://127.0.0.1:9/e" },
  });
  assert.deepEqual([run.code, run.stdout, run.stderr], [0, "", ""]);
});

test(`${runtime}: a trail written into a pipe whose reader has gone changes nothing the program does`, {
  skip: !canRun("bash", "-c", "true") && "needs bash",
}, async () => {
  // The trail goes to a pipe that a reader closes at once: each write meets EPIPE. The program's own exit
  // status is the one bash reports for it (an unhandled EPIPE made it 1 under Node.js and Bun).
  const script = '"$@" 2>&1 >/dev/null | (exec 0<&-; sleep 1); echo "status=${PIPESTATUS[0]}"';
  const run = await tracedInShell(script);
  assert.equal(run.stdout.trim(), "status=0", run.stderr);
  // A program whose setTimeout throws: the listener that takes the pipe's errors must not go before they come.
  const throwing = await tracedInShell(script, { NAT_TEST_THROWING_TIMERS: "1" });
  assert.equal(throwing.stdout.trim(), "status=0", throwing.stderr);
});

test(`${runtime}: a trail written into a pipe its reader is slow to read comes whole, after the program's own output`, {
  skip: !canRun("bash", "-c", "true") && "needs bash",
}, async () => {
  // The program's 200 KB fill the pipe (and make its stream non-blocking); the reader starts a second later.
  const run = await tracedInShell('"$@" 2>&1 >/dev/null | (sleep 1; cat)', { NAT_TEST_NOISE_BYTES: "200000" });
  const [noise, ...trail] = run.stdout.trimEnd().split("\n");
  assert.equal(noise.length, 199_999, "the program's own output, whole and first");
  assert.ok(trail.length >= 5 && trail.every((line) => line.startsWith("[nat-telemetry] ")), run.stdout.slice(-2000));
  assert.match(trail.at(-1)!, /answer for 1 event\(s\)|dropped|retry|spool/, "to its last line");
});

/** Runs the debug fixture, its trail on, as `"$@"` in a bash script that pipes its standard error somewhere. */
function tracedInShell(script: string, env: Record<string, string> = {}) {
  return runChild("debug_child.ts", {
    executable: "bash",
    args: ["-c", script, "bash", ...runtimeCommand(fixturePath("debug_child.ts"))],
    env: {
      NAT_TELEMETRY_DEBUG: "1",
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_ENDPOINT: "http://127.0.0.1:9/e",
      ...env,
    },
  });
}
