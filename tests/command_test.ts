/**
 * trackCommand through the example CLI, in child processes of the runtime
 * under test, against a real loopback server: what is recorded for each way a
 * command ends, what is never reported, and that the CLI's own behaviour
 * (output, exit code) is unchanged.
 */
import { test } from "node:test";
import { isReportableName } from "../src/command_name.ts";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import process from "node:process";
import {
  type CommandResult,
  effectiveConsent,
  NATTelemetryHandler,
  setTelemetryEnabled,
  trackCommand,
  type TrackCommandOptions,
} from "../mod.ts";
import { telemetryCommand } from "../src/cli.ts";
import { runChild, signalChild, startChild } from "./helpers/child.ts";
import { TestServer } from "./helpers/server.ts";
import { spooled, tempDir } from "./helpers/spool_dir.ts";

/** Runs the example CLI with telemetry on, against `server`, with a spool and consent file in `dir`. */
function cli(dir: string, server: TestServer, args: string[], env: Record<string, string | undefined> = {}) {
  return runChild("../../examples/cli.ts", {
    args,
    env: {
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_ENDPOINT: server.url(),
      NAT_TELEMETRY_SPOOL_DIR: `${dir}/spool`,
      NAT_TELEMETRY_CONSENT_FILE: `${dir}/telemetry.toml`,
      ...env,
    },
  });
}

async function withServer(fn: (server: TestServer, dir: string) => Promise<void>) {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    await fn(server, dir.path);
  } finally {
    await server.close();
  }
}

/** Runs `track_child.ts MODE CODE` with telemetry on, against `server`, with a spool in `dir`. */
function trackChild(
  mode: string,
  code: number | string,
  server: TestServer,
  dir: string,
  env: Record<string, string> = {},
) {
  return runChild("track_child.ts", {
    args: [mode, String(code)],
    env: {
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_ENDPOINT: server.url(),
      NAT_TELEMETRY_SPOOL_DIR: `${dir}/spool`,
      ...env,
    },
  });
}

test("success: the command, status, exit code, duration and a random session id are recorded", async () => {
  await withServer(async (server, dir) => {
    const run = await cli(dir, server, ["greet", "Ada"]);
    assert.deepEqual([run.code, run.stdout, run.stderr], [0, "Hello, Ada!\n", ""], "the CLI's output is unchanged");
    const [envelope] = server.requests.map((request) => JSON.parse(request.body));
    assert.match(envelope.sessionId, /^[0-9a-f]{32}$/);
    const { parameters } = envelope.events[0];
    assert.deepEqual(
      [parameters.command, parameters.subcommand, parameters.taskStatus, parameters.exitCode, parameters.errorClass],
      ["greet", "undefined", "success", 0, "undefined"],
      "'Ada' is user text: it is not a registered subcommand, so it is not reported",
    );
    assert.ok(Number.isInteger(parameters.durationMs) && parameters.durationMs >= 0);
    assert.doesNotMatch(JSON.stringify(envelope), /Ada/);
  });
});

test("a non-zero exit code is a failure with that code, and the process keeps it", async () => {
  await withServer(async (server, dir) => {
    const run = await cli(dir, server, ["fail"]);
    assert.equal(run.code, 2);
    const { parameters } = server.events()[0];
    assert.deepEqual([parameters.taskStatus, parameters.exitCode], ["failure", 2]);
  });
});

test("a thrown built-in error is a failure, exit code 1, with its class; the error still reaches the program", async () => {
  await withServer(async (server, dir) => {
    const run = await cli(dir, server, ["crash"]);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, "error: this command always crashes\n");
    const { parameters } = server.events()[0];
    assert.deepEqual([parameters.taskStatus, parameters.exitCode, parameters.errorClass], ["failure", 1, "RangeError"]);
  });
});

test("a program's own error class is reported only as Error", async () => {
  await withServer(async (server, dir) => {
    await cli(dir, server, ["oops"]);
    assert.equal(server.events()[0].parameters.errorClass, "Error");
    assert.doesNotMatch(server.requests[0].body, /ProjectSecretError/);
  });
});

test("errorClasses as an object reports the names it gives them, which a minifier does not rename", async () => {
  const server = await TestServer.start();
  setTelemetryEnabled(true);
  try {
    const fe = class extends Error {}; // as a minifier leaves `class ConfigError`: its own name is "fe"
    const handler = { endpoint: server.url(), spoolDir: false as const, handOff: false };
    const cases: [TrackCommandOptions["errorClasses"], Error, string][] = [
      [{ ConfigError: fe }, new fe("boom"), "ConfigError"],
      [[fe], new fe("boom"), "fe"],
      [{ ConfigError: fe }, new RangeError("boom"), "RangeError"],
      [{ ConfigError: fe }, new (class Other extends Error {})("boom"), "Error"],
    ];
    for (const [errorClasses, thrown, expected] of cases) {
      await assert.rejects(
        trackCommand({ command: "x", askConsent: false, errorClasses, handler }, () => {
          throw thrown;
        }),
        (error) => error === thrown,
      );
      assert.equal(server.events().at(-1)?.parameters.errorClass, expected);
    }
  } finally {
    setTelemetryEnabled(false);
    await server.close();
  }
});

test("the CLI's own telemetry command records the decision, and is itself never reported", async () => {
  await withServer(async (server, dir) => {
    const env = { NAT_TELEMETRY_ENABLED: undefined };
    const on = await cli(dir, server, ["telemetry", "enable"], env);
    assert.deepEqual([on.code, on.stdout], [0, `Telemetry enabled: saved to ${dir}/telemetry.toml.\n`]);
    assert.equal((await cli(dir, server, ["greet"], env)).code, 0);
    const off = await cli(dir, server, ["telemetry", "disable"], env);
    assert.deepEqual([off.code, off.stdout], [0, `Telemetry disabled: saved to ${dir}/telemetry.toml.\n`]);
    await cli(dir, server, ["greet"], env);
    const reported = server.events().map((event) => [event.parameters.command, event.parameters.subcommand]);
    assert.deepEqual(reported, [["greet", "undefined"]], "only the run between opt-in and opt-out");
    assert.match(readFileSync(`${dir}/telemetry.toml`, "utf8"), /consent = "disabled"/);
  });
});

test("the CLI's users get status, enable and disable under the CLI's own name", async () => {
  await withServer(async (server, dir) => {
    const env = { NAT_TELEMETRY_ENABLED: undefined };
    const help = await cli(dir, server, ["telemetry", "--help"], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: example-cli telemetry \[status\|enable\|disable\]/);
    assert.doesNotMatch(help.stdout, /nat-telemetry/, "end users do not have nat-telemetry");
    const status = await cli(dir, server, ["telemetry"], env);
    assert.match(status.stdout, /^Telemetry: disabled\nDecided by: the default: nobody has decided yet\n/);
    assert.match(status.stdout, /\nChange it with: example-cli telemetry enable \| disable\n/);
    assert.equal(JSON.parse((await cli(dir, server, ["telemetry", "status", "--json"], env)).stdout).enabled, false);
    const wrong = await cli(dir, server, ["telemetry", "off"], env);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^example-cli telemetry: unknown command 'off'\n\nUsage: example-cli telemetry/);
    const mistyped = await cli(dir, server, ["telemetry", "status", "--jsn"], env);
    assert.equal(mistyped.code, 2);
    assert.match(mistyped.stderr, /^example-cli telemetry: Unknown option '--jsn'\n\nUsage: example-cli telemetry/);
    assert.equal(server.requests.length, 0, "managing telemetry sends nothing");
  });
});

test("Ctrl-C is recorded as interrupted (130), spooled, and the process dies of SIGINT", async () => {
  await withServer(async (server, dir) => {
    const started = startChild("../../examples/cli.ts", {
      args: ["wait"],
      env: {
        NAT_TELEMETRY_ENABLED: "1",
        NAT_TELEMETRY_ENDPOINT: server.url(),
        NAT_TELEMETRY_SPOOL_DIR: `${dir}/spool`,
        NAT_TELEMETRY_CONSENT_FILE: `${dir}/telemetry.toml`,
      },
    });
    await new Promise<void>((resolve) => started.process.stdout?.once("data", () => resolve()));
    signalChild(started);
    const result = await started.result;
    assert.equal(result.signal, "SIGINT", `died of SIGINT, not exited with ${result.code}`);
    const [line] = spooled(`${dir}/spool`);
    const { command, taskStatus, exitCode, errorClass } = line.event.parameters;
    assert.deepEqual(
      [command, taskStatus, exitCode, errorClass],
      ["wait", "interrupted", 130, "KeyboardInterrupt"],
      "reported as the Python tool reports Ctrl-C",
    );
    const next = await cli(dir, server, ["greet"]);
    assert.equal(next.code, 0);
    // Two sessions, two batches, sent side by side: in either order.
    assert.deepEqual(server.events().map((event) => event.parameters.taskStatus).sort(), ["interrupted", "success"]);
  });
});

test("with telemetry off nothing is sent, nothing is spooled, and main runs all the same", async () => {
  await withServer(async (server, dir) => {
    const run = await cli(dir, server, ["greet"], { NAT_TELEMETRY_ENABLED: "0" });
    assert.deepEqual([run.code, run.stdout], [0, "Hello, there!\n"]);
    assert.equal(server.requests.length, 0);
    assert.equal(existsSync(`${dir}/spool`), false, "not even a spool directory");
  });
});

test("trackCommand returns and rethrows exactly what main did, with telemetry off and on", async () => {
  const options = { command: "x", askConsent: false, handler: { endpoint: "", spoolDir: false as const } };
  const value = { answer: 42 };
  // What reading the class of would throw: a revoked Proxy, an object whose `constructor` getter throws.
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  const hostile = Object.defineProperty({}, "constructor", {
    get() {
      throw new Error("getter");
    },
  });
  try {
    for (const enabled of [false, true]) {
      setTelemetryEnabled(enabled);
      assert.equal(await trackCommand(options, () => value), value);
      for (const error of [new SyntaxError("bad"), proxy, hostile, null]) {
        for (
          const main of [() => Promise.reject(error), () => {
            throw error;
          }]
        ) {
          // Not assert.rejects, which reads what was thrown (a revoked Proxy throws then); in an object, as a
          // promise's value is read for a `then`.
          const outcome = await trackCommand(options, main).then(
            () => ({ thrown: "nothing" }),
            (thrown) => ({ thrown }),
          );
          assert.ok(outcome.thrown === error, `rethrown as it was, telemetry ${enabled ? "on" : "off"}`);
        }
      }
    }
  } finally {
    setTelemetryEnabled(false);
  }
  // deno-lint-ignore no-explicit-any
  await assert.rejects(trackCommand({} as any, () => 0), /'command' must be given/);
});

test("a session id the program left undefined (an unset variable) is none: each command gets a random one", async () => {
  const server = await TestServer.start();
  try {
    setTelemetryEnabled(true);
    const handler = { endpoint: server.url(), spoolDir: false as const, handOff: false, sessionId: undefined };
    for (const command of ["a", "b"]) await trackCommand({ command, askConsent: false, handler }, () => 0);
    const sessions = server.requests.map((request) => JSON.parse(request.body).sessionId);
    assert.equal(sessions.length, 2);
    assert.ok(sessions.every((id) => /^[0-9a-f]{32}$/.test(id)) && sessions[0] !== sessions[1], sessions.join(", "));
  } finally {
    setTelemetryEnabled(false);
    await server.close();
  }
});

test("trackCommand's logger hears why the command is not recorded while telemetry is off", async () => {
  const lines: string[] = [];
  setTelemetryEnabled(false);
  const handler = { endpoint: "", spoolDir: false as const, logger: (line: string) => lines.push(line) };
  assert.equal(await trackCommand({ command: "a", askConsent: false, handler }, () => 3), 3);
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /^\[nat-telemetry\] telemetry off \(decided by .+\): the command is not recorded$/);
});

test("trackCommand's types: what main returns, with nothing (undefined) become the exit code set", async () => {
  const options = { command: "x", askConsent: false, handler: { endpoint: "", spoolDir: false as const } };
  // Checked by the type checker (the test command's "types" check); each line failed to compile, or compiled where it
  // should not, under a typing tried before.
  const nothing: number | undefined = await trackCommand(options, async () => {});
  const code: number = await trackCommand(options, () => 3);
  // What `process.exitCode = await trackCommand(...)` assigns to (not the test process's own exit code).
  const passedOn: typeof process.exitCode = await trackCommand(
    options,
    (): Promise<number | void> => Promise.resolve(0),
  );
  // deno-lint-ignore no-explicit-any
  const loaded = (): any => "text";
  const text: string = await trackCommand(options, loaded);
  // @ts-expect-error: where main returns undefined, the exit code set comes back, not a string | undefined.
  const maybe: string | undefined = await trackCommand(options, (): string | undefined => undefined);
  // A program's own generic wrapper says what comes back.
  const wrapped = <T>(main: () => Promise<T>): Promise<CommandResult<T>> => trackCommand(options, main);
  const done: string = await wrapped(() => Promise.resolve("done"));
  assert.deepEqual([typeof (nothing ?? 0), code, passedOn, text, typeof (maybe ?? 0), done], [
    "number",
    3,
    0,
    "text",
    "number",
    "done",
  ]);
});

/** Starts the program that handles Ctrl-C itself, waits until it is ready, and sends SIGINT. */
async function interruptOwnHandler(server: TestServer, dir: string, mode: "finish" | "exit") {
  const started = startChild("own_signal_child.ts", {
    args: [mode],
    env: {
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_ENDPOINT: server.url(),
      NAT_TELEMETRY_SPOOL_DIR: `${dir}/spool`,
    },
  });
  await new Promise<void>((resolve) => started.process.stdout?.once("data", () => resolve()));
  // Not started.process.kill(): Deno's node:child_process then reports the child as killed by the signal even
  // when it handled it and exited with a code of its own.
  signalChild(started);
  return await started.result;
}

test("a program that handles Ctrl-C itself keeps it: its handler runs once, one event records its outcome", async () => {
  await withServer(async (server, dir) => {
    const result = await interruptOwnHandler(server, dir, "finish");
    assert.deepEqual([result.code, result.signal, result.stdout], [5, null, "ready\ncleanup 1\n"]);
    const recorded = server.events().map((event) => [event.parameters.taskStatus, event.parameters.exitCode]);
    assert.deepEqual(recorded, [["failure", 5]], "exactly one event: what the command did, not 'interrupted' too");
    assert.deepEqual(spooled(`${dir}/spool`), []);
  });
});

test("a program whose own Ctrl-C handler exits keeps its exit code; the event is spooled, then delivered", async () => {
  await withServer(async (server, dir) => {
    const result = await interruptOwnHandler(server, dir, "exit");
    assert.deepEqual([result.code, result.signal, result.stdout], [0, null, "ready\ncleanup 1\n"]);
    const lines = spooled(`${dir}/spool`).map((
      line,
    ) => [line.event.parameters.taskStatus, line.event.parameters.exitCode]);
    assert.deepEqual(lines, [["success", 0]], "the explicit exit is recorded with its code");
  });
});

for (const mode of ["v4", "v3", "in-command", "two-copies"]) {
  test(`Ctrl-C ends a program whose other listeners stand aside too (${mode}): signal-exit's, another copy's`, async () => {
    // Each ends the process only when no one else listens: had each taken the others for the program's, each would
    // have waited for the others, and Ctrl-C would have ended nothing.
    await withServer(async (_server, dir) => {
      const started = startChild("signal_exit_child.ts", {
        args: [mode],
        env: {
          NAT_TELEMETRY_ENABLED: "1",
          NAT_TELEMETRY_ENDPOINT: "http://127.0.0.1:9/",
          NAT_TELEMETRY_SPOOL_DIR: `${dir}/spool`,
        },
        limitMs: 20_000,
      });
      await new Promise<void>((resolve) => started.process.stdout?.once("data", () => resolve()));
      signalChild(started);
      const result = await started.result;
      assert.equal(result.signal, "SIGINT", `died of SIGINT, not exited with ${result.code}: ${result.stderr}`);
      const recorded = spooled(`${dir}/spool`).map((line) =>
        `${line.event.parameters.command} ${line.event.parameters.taskStatus}`
      );
      assert.deepEqual(
        recorded.sort(),
        mode === "two-copies" ? ["inner interrupted", "outer interrupted"] : ["outer interrupted"],
      );
      if (mode !== "two-copies") assert.equal(result.stdout, "ready\nsignal-exit ran\n", "signal-exit's callback ran");
    });
  });
}

test("10,000 trackCommand calls in one process hold no listeners, print no warning, keep the heap flat", async () => {
  const run = await runChild("track_many_child.ts", {
    args: ["10000"],
    denoFlags: ["-A", "--v8-flags=--expose-gc"],
    env: { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: "" },
    limitMs: 120_000,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, "", "nothing printed into the host (no MaxListenersExceededWarning)");
  const { early, late } = JSON.parse(run.stdout);
  assert.deepEqual(late.listeners, early.listeners, "the listeners the library holds do not grow with calls");
  // 0.2-0.4 MB more in each runtime; a command's event (some 220 bytes) kept by each of the 9,000 calls: 2 MB.
  const grown = late.heapMB - early.heapMB;
  assert.ok(grown < 1.5, `heap ${early.heapMB.toFixed(1)} MB → ${late.heapMB.toFixed(1)} MB`);
});

test("a bad option throws before main runs, whether telemetry is on or off", async () => {
  const cases: [unknown, ErrorConstructor, RegExp][] = [
    [
      { command: "x", handler: { maxRetries: -1 } },
      RangeError,
      /^Cannot create handler: 'maxRetries' must be a non-negative integer, got -1$/,
    ],
    [
      { command: "x", handler: { endpiont: "http://x" } },
      TypeError,
      /'endpiont' is not an option \(did you mean 'endpoint'\?\)/,
    ],
    [
      { command: "x", subcommands: "hello" },
      TypeError,
      /^Cannot track command: 'subcommands' must be an array of strings, got "hello"$/,
    ],
    [{ command: "x", subcommands: ["a", 1] }, TypeError, /'subcommands' must be an array of strings/],
    // Names the program fixes that could never be reported: each event would say "undefined".
    [{ command: "x", subcommands: ["get", "config.get"] }, TypeError, /'subcommands' holds "config\.get", which would/],
    [
      { command: "x", subcommands: ["--force"] },
      TypeError,
      /'subcommands' holds "--force", which would be reported as/,
    ],
    [
      { command: "x", errorClasses: { "config-error": class extends Error {} } },
      TypeError,
      /'errorClasses' names a class "config-error", which would be reported as "undefined"/,
    ],
    [{ command: "x", errorClasses: Error }, TypeError, /'errorClasses' must be an array of classes or an object/],
    [
      { command: "x", errorClasses: { A: "A" } },
      TypeError,
      /'errorClasses' must be an array of classes or an object naming them, got an object holding "A" at A$/,
    ],
    [
      { command: "x", errorClasses: [class A extends Error {}, "ConfigError"] },
      TypeError,
      /'errorClasses' must be an array of classes or an object naming them, got an array holding "ConfigError" at 1$/,
    ],
    // The size options must hold the smallest event trackCommand records (247 bytes), not only any event (60 bytes).
    [
      { command: "x", handler: { maxEventBytes: 246 } },
      RangeError,
      /^Cannot create handler: 'maxEventBytes' must be at least 247 \(the smallest event trackCommand records; a command's own are larger by its name, source and duration\), got 246$/,
    ],
    [
      { command: "x", handler: { maxBatchBytes: 913 } },
      RangeError,
      /'maxBatchBytes' must be at least 1100 \(one nat envelope holding the smallest event trackCommand records; a command's own are larger/,
    ],
    [
      { command: "x", handler: { spoolMaxBytes: 300 } },
      RangeError,
      /'spoolMaxBytes' must be at least 333 \(one spooled event, the smallest event trackCommand records; .*\), got 300$/,
    ],
    [{ command: "x", nemoSource: "nope" }, TypeError, /'nemoSource' must be one of "inference", .*, got "nope"/],
    [{ command: "x", askConsent: "no" }, TypeError, /'askConsent' must be a boolean, got "no"/],
    [{ command: "x", optOutCommand: 3 }, TypeError, /'optOutCommand' must be a non-empty command of one line, .*got 3/],
    [{ command: "x", optOutCommand: "x\ny" }, TypeError, /'optOutCommand' must be a non-empty command of one line/],
    [{}, TypeError, /^Cannot track command: 'command' must be given: the command's fixed name, e\.g\. "run"$/],
    [
      { command: "x", handler: { captureInterrupts: () => {} } },
      TypeError,
      /'handler.captureInterrupts' is trackCommand's own/,
    ],
    [{ command: "x", handler: [] }, TypeError, /'handler' must be an object of handler options, got an array/],
    [{ command: "x", handler: Promise.resolve({}) }, TypeError, /'handler' must be an object .*, got a Promise$/],
    [
      { command: "x", handler: new NATTelemetryHandler({ spoolDir: false, endpoint: "" }) },
      TypeError,
      /'handler' takes a handler's options .*, not a NATTelemetryHandler: trackCommand makes its own$/,
    ],
    [{ comand: "x" }, TypeError, /'comand' is not an option \(did you mean 'command'\?\)/],
  ];
  try {
    for (const enabled of [false, true]) {
      setTelemetryEnabled(enabled);
      for (const [options, type, message] of cases) {
        let ran = false;
        await assert.rejects(
          trackCommand({ askConsent: false, ...options as TrackCommandOptions }, () => {
            ran = true;
          }),
          (error: Error) => error instanceof type && message.test(error.message),
          `${JSON.stringify(options)} with telemetry ${enabled ? "on" : "off"}`,
        );
        assert.equal(ran, false, "main never ran");
      }
    }
  } finally {
    setTelemetryEnabled(false);
  }
});

test("size options at the least trackCommand allows: its smallest event is delivered, not dropped as too large", async () => {
  const server = await TestServer.start();
  setTelemetryEnabled(true);
  try {
    const handler = { endpoint: server.url(), spoolDir: false, maxEventBytes: 247, maxBatchBytes: 1100 } as const;
    await trackCommand({ command: "x", nemoSource: "auditor", askConsent: false, handler }, () => 0);
    assert.deepEqual(server.events().map((event) => event.parameters.command), ["x"]);
  } finally {
    setTelemetryEnabled(false);
    await server.close();
  }
});

test("a value the user's environment gave an option (an endpoint without a scheme, a key read with its newline): the command runs", async () => {
  const server = await TestServer.start();
  try {
    for (const enabled of [false, true]) {
      setTelemetryEnabled(enabled);
      const lines: string[] = [];
      const logger = (line: string) => lines.push(line);
      let ran = 0;
      const main = () => (ran++, 3);
      // As `{ endpoint: process.env.MYCLI_TELEMETRY_URL, headers: { "x-api-key": process.env.MYCLI_KEY } }` gives them.
      const cases = [
        {
          endpoint: "localhost:4318",
          reason: /dropped 1 event\(s\): invalid_endpoint \(the program's 'endpoint' "localhost:4318" is not/,
        },
        {
          endpoint: server.url(),
          headers: { "x-api-key": "k\u0007" },
          reason: /dropped 1 event\(s\): invalid_headers \(the program's 'headers' has a value for "x-api-key"/,
        },
      ];
      for (const { reason, ...handler } of cases) {
        const tracked = trackCommand(
          { command: "x", askConsent: false, handler: { ...handler, spoolDir: false, handOff: false, logger } },
          main,
        );
        assert.equal(await tracked, 3, "what main returned");
        if (enabled) assert.match(lines.join("\n"), reason);
      }
      // A key read from a file keeps its newline: sent without it, as fetch sends it.
      const handler = { endpoint: server.url(), headers: { "x-api-key": "k-123\n" }, spoolDir: false as const };
      assert.equal(
        await trackCommand({ command: "x", askConsent: false, handler: { ...handler, handOff: false } }, main),
        3,
      );
      assert.equal(ran, 3);
    }
    assert.equal(server.requests.length, 1, "the one event with a header that can be sent, telemetry on");
    assert.equal(server.requests[0].headers["x-api-key"], "k-123");
  } finally {
    setTelemetryEnabled(false);
    await server.close();
  }
});

test("a program that exits or rethrows as soon as trackCommand settles: delivered in process once, nothing spooled", async () => {
  // In CI or a container the exit delivers in process; the event has left when trackCommand settles, so the
  // program's own exit neither cuts the request (Bun's HTTP thread then delivered it and the spool kept it too: the
  // next run sent it again) nor leaves it in a spool that a CI machine never reads again.
  await withServer(async (server, dir) => {
    for (
      const [mode, code, status] of [["then-exit", 5, "failure"], ["throw", 1, "failure"], ["then-exit", 0, "success"]]
    ) {
      const run = await trackChild(mode as string, code as number, server, dir, { NAT_TELEMETRY_HANDOFF: "0" });
      assert.equal(run.code, code, `${mode} ${code}: ${run.stderr}`);
      const sent = server.events().map((event) => [event.parameters.taskStatus, event.parameters.exitCode]);
      assert.deepEqual(sent, [[status, code]], `${mode} ${code}: delivered once`);
      assert.deepEqual(spooled(`${dir}/spool`), [], `${mode} ${code}: nothing left for a later run to send again`);
      server.requests.length = 0;
    }
  });
});

test(
  "the exit code recorded is the one the process exits with (POSIX: modulo 256; errors the program handles end nothing; " +
    "a code main sets is kept when the program passes the result on)",
  {
    skip: process.platform === "win32" && "POSIX exit statuses",
  },
  async () => {
    await withServer(async (server, dir) => {
      const cases = [
        ["return", 256],
        ["return", -1],
        ["return", 300],
        ["return-text", "2"],
        ["return-text", "0x3"],
        ["set", 6],
        ["exit", 256],
        ["exit", 257],
        ["handled", 0],
      ];
      for (const [mode, code] of cases) {
        const run = await trackChild(mode as string, code, server, dir);
        const recorded = [...server.events(), ...spooled(`${dir}/spool`).map((line) => line.event)].at(-1);
        assert.ok(recorded, `${mode} ${code}: an event`);
        const { taskStatus, exitCode } = recorded.parameters;
        assert.equal(exitCode, run.code, `${mode} ${code}: recorded ${exitCode}, the process exited ${run.code}`);
        assert.equal(taskStatus, run.code === 0 ? "success" : "failure", `${mode} ${code}`);
        rmSync(`${dir}/spool`, { recursive: true, force: true });
        server.requests.length = 0;
      }
      // With telemetry off, passing the result on keeps the code main set all the same.
      const off = await runChild("track_child.ts", { args: ["set", "6"], env: { NAT_TELEMETRY_ENABLED: "0" } });
      assert.equal(off.code, 6, "telemetry off: the process keeps the code main set");
    });
  },
);

test("a main that returns what is not an exit code: the program's code is recorded, and the trail says why", async () => {
  // 2.5 as text, which the program then fails to pass on: it exits 1, after the event went with the code it had.
  await withServer(async (server, dir) => {
    const run = await runChild("track_child.ts", {
      args: ["return-text", "2.5"],
      env: {
        NAT_TELEMETRY_ENABLED: "1",
        NAT_TELEMETRY_ENDPOINT: server.url(),
        NAT_TELEMETRY_SPOOL_DIR: `${dir}/spool`,
        NAT_TELEMETRY_DEBUG: "1",
      },
    });
    assert.match(run.stderr, /main returned "2\.5", which is not an exit code: the program's is recorded/);
    assert.deepEqual(server.events().map((event) => event.parameters.exitCode), [0]);
  });
});

test("a command's name may be a few words or have a slash, as commands are named: only flags and paths are refused", async () => {
  for (
    const command of [
      "run",
      "mcp serve",
      "db/migrate",
      "eval-v2",
      "migrate:fresh",
      "\uff52\uff55\uff4e",
      "über",
      "sendFeedback",
      "generateDefinitions",
      "linkDebugTestLinuxX64",
      "generateOAuth2Token",
    ]
  ) {
    const options = { command, askConsent: false, handler: { endpoint: "", spoolDir: false as const } };
    assert.equal(await trackCommand(options, () => 0), 0, command);
    assert.ok(isReportableName(command), `${command}: reported as it is`);
  }
});

test("a command that is no name (what a user typed, a path, a command line) is reported as undefined; the command runs", async () => {
  const names = [
    "./notes.txt",
    "run --input secret.txt",
    "/home/ada/bin/mycli",
    "home/bob/.ssh/id_rsa",
    "C:/Users/bob/secret.txt",
    "https://user:pw@host/x",
    "bob@example.com",
    "..",
    " run",
    "",
    "run\u202e",
    "run\u034f",
    "\u3164",
    "x".repeat(65),
    "notes.txt",
    "docs/report.pdf",
    "192.168.1.10",
    "localhost:3000",
    "fe80::1",
    "example.com",
    "+15551234567",
    "4111 1111 1111 1111",
    "sk-proj-abcdef123456",
    "home/jdoe/notes",
    "Users/jdoe/Documents/merger-plan",
    "jdoe\uff20example\uff0ecom",
    "notes\uff0etxt",
    "www\u3002example\u3002com",
    "www\uff61example\uff61com",
    "www%2Eexample%2Ecom",
    "192%2E168%2E1%2E10",
    "0xc0a8c0a8",
    "a3f9c0d1e2b7",
    // Tokens a user pastes where a program passes its argument on (made up; no run of 4 digits or 8 hex ones).
    "ghp_ExampleExample1Example",
    "glpat-Example_Example-Exa",
    "deploy AKIAexampleKey7abcde",
    "eyJhbGciOiJIUzI1NiJ9",
  ];
  const server = await TestServer.start();
  setTelemetryEnabled(true);
  try {
    const handler = { endpoint: server.url(), spoolDir: false as const, handOff: false };
    for (const command of names) {
      let ran = false;
      // A subcommand that is a user's too, of any type (a flag's `true`), is reported as "undefined" all the same.
      const subcommand = (command.length % 2 === 0 ? true : command) as string;
      const options = { command, subcommand, subcommands: ["run"], askConsent: false, handler };
      const code = await trackCommand(options, () => {
        ran = true;
        return 3;
      });
      assert.deepEqual([ran, code], [true, 3], `${JSON.stringify(command)}: the command ran and its code came back`);
      const { parameters } = server.events().at(-1)!;
      assert.deepEqual(
        [parameters.command, parameters.subcommand],
        ["undefined", "undefined"],
        JSON.stringify(command),
      );
    }
    // What a user's run may leave out: no command typed (`positionals[0]`), a number as minimist parses `mycli 42`, a
    // subcommand the program did not list.
    const unlisted = [
      { command: undefined as unknown as string },
      { command: 42 as unknown as string },
      { command: "run", subcommand: "fast" },
    ];
    for (const options of unlisted) {
      assert.equal(await trackCommand({ ...options, askConsent: false, handler }, () => 4), 4, JSON.stringify(options));
      const { parameters } = server.events().at(-1)!;
      const command = typeof options.command === "string" ? options.command : "undefined";
      assert.deepEqual([parameters.command, parameters.subcommand], [command, "undefined"]);
    }
    assert.equal(server.events().length, names.length + unlisted.length);
  } finally {
    setTelemetryEnabled(false);
    await server.close();
  }
  // As shipped: a CLI that passes its first argument on, run by a user with a file's name, and the trail says why.
  await withServer(async (server, dir) => {
    const run = await runChild("track_child.ts", {
      args: ["return", "0", "./notes.txt"],
      env: {
        NAT_TELEMETRY_ENABLED: "1",
        NAT_TELEMETRY_ENDPOINT: server.url(),
        NAT_TELEMETRY_SPOOL_DIR: `${dir}/spool`,
        NAT_TELEMETRY_DEBUG: "1",
      },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /'command' \(11 characters\) is not a command's fixed name .*: reported as "undefined"/);
    assert.doesNotMatch(run.stderr, /notes/, "the trail does not echo what the user typed");
    assert.deepEqual(server.events().map((event) => event.parameters.command), ["undefined"]);
    assert.doesNotMatch(server.requests.map((request) => request.body).join(), /notes/);
  });
});

test("a wall clock stepped while the command ran (NTP): its duration is the command's own", async () => {
  const server = await TestServer.start();
  const now = Date.now;
  setTelemetryEnabled(true);
  try {
    const handler = { endpoint: server.url(), spoolDir: false as const, handOff: false };
    for (const step of [-3_600_000, 3_600_000]) {
      const code = await trackCommand({ command: "run", askConsent: false, handler }, async () => {
        const stepped = now() + step;
        Date.now = () => stepped;
        await new Promise((resolve) => setTimeout(resolve, 50));
        return 0;
      });
      Date.now = now;
      assert.equal(code, 0);
    }
    const durations = server.events().map((event) => Number(event.parameters.durationMs));
    assert.equal(durations.length, 2);
    for (const ms of durations) assert.ok(ms >= 45 && ms < 600_000, `the command's 50 ms, not the step: ${ms}`);
  } finally {
    Date.now = now;
    setTelemetryEnabled(false);
    await server.close();
  }
});

test("status tells a decision the program made from a setting of its own (setTelemetryEnabled)", () => {
  let printed = "";
  const output = { out: (text: string) => void (printed += text), err: () => {}, color: false };
  const status = (args: string[]) => {
    printed = "";
    telemetryCommand(args, { name: "mycli telemetry", output, handler: { spoolDir: false } });
    return printed;
  };
  // The other way than the user's decision (the test's own: nobody decided, unless its environment did).
  const { enabled, source } = effectiveConsent();
  setTelemetryEnabled(!enabled);
  try {
    const decided = `^Telemetry: ${
      enabled ? "disabled" : "enabled"
    }\nDecided by: the program \\(setTelemetryEnabled\\), over `;
    assert.match(status(["status"]), new RegExp(decided));
    const json = JSON.parse(status(["status", "--json"]));
    assert.deepEqual([json.enabled, json.source], [!enabled, "program"]);
  } finally {
    setTelemetryEnabled(enabled);
  }
  assert.equal(JSON.parse(status(["status", "--json"])).source, source, "the same way: the user's decision shows");
});

test("telemetryCommand needs the command's name, its arguments as an array, and an output it can write usage to", () => {
  // deno-lint-ignore no-explicit-any
  assert.throws(() => telemetryCommand([], {} as any), /^TypeError: Cannot run telemetry command: 'name' must be/);
  // Printed in the usage and the "Change it with" lines: one line.
  assert.throws(() => telemetryCommand([], { name: "my\ncli" }), /'name' must be a non-empty command of one line/);
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => telemetryCommand([], { name: "mycli telemetry", handlers: {} } as any),
    /'handlers' is not an option \(did you mean 'handler'\?\)/,
  );
  // deno-lint-ignore no-explicit-any
  assert.throws(() => telemetryCommand("status" as any, { name: "mycli telemetry" }), /'args' must be an array of/);
  // An output without `err` would show only where a user mistypes a command, and crash there: told at every call.
  for (const output of [{ out() {} }, null, "stdout"]) {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => telemetryCommand(["status"], { name: "mycli telemetry", output: output as any }),
      /^TypeError: Cannot run telemetry command: 'output' must be an object with 'out' and 'err' functions, got /,
    );
  }
});
