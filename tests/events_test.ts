import { test } from "node:test";
import assert from "node:assert/strict";
import { CliCommandEvent, type EventParameters, NemoSource, TaskStatus, TelemetryEvent } from "../mod.ts";
import { runtimeInfo } from "../src/runtime/mod.ts";

test("TaskStatus and NemoSource hold exactly the schema 1.5 values", () => {
  assert.deepEqual(Object.values(TaskStatus).sort(), [
    "canceled",
    "completed",
    "error",
    "failure",
    "interrupted",
    "success",
    "undefined",
  ]);
  assert.deepEqual(Object.values(NemoSource).sort(), [
    "agent_toolkit",
    "anonymizer",
    "auditor",
    "datadesigner",
    "evaluator",
    "guardrails",
    "inference",
    "safe-synthesizer",
    "undefined",
  ]);
  assert.ok(Object.isFrozen(TaskStatus) && Object.isFrozen(NemoSource));
});

test("CliCommandEvent applies the schema defaults, in wire order", () => {
  const event = new CliCommandEvent({ command: "run", taskStatus: "success" });
  assert.equal(event.name, "nat_cli_command");
  assert.equal(event.schemaVersion, "1.5");
  assert.deepEqual(Object.entries(event.parameters()), [
    ["nemoSource", "agent_toolkit"],
    ["command", "run"],
    ["subcommand", "undefined"],
    ["taskStatus", "success"],
    ["durationMs", -1],
    ["exitCode", -1],
    ["errorClass", "undefined"],
    ["pythonVersion", `${runtimeInfo().name}/${runtimeInfo().version}`],
  ]);
});

test("pythonVersion defaults to the running runtime and its version", () => {
  const label = new CliCommandEvent({ command: "x", taskStatus: "success" }).parameters().pythonVersion;
  const expected = process.env.NAT_TEST_RUNTIME_LABEL;
  assert.match(String(label), /^(deno|node|bun)\/\d+\.\d+\.\d+/);
  if (expected) assert.ok(String(label).startsWith(`${expected}/`), `${label} runs on ${expected}`);
});

test("durationMs below -1 (a clock stepped back) is recorded as -1, unknown; infinite is rejected; fractions truncated", () => {
  assert.equal(new CliCommandEvent({ command: "r", taskStatus: "success", durationMs: -2 }).fields.durationMs, -1);
  assert.equal(new CliCommandEvent({ command: "r", taskStatus: "success", durationMs: -500.5 }).fields.durationMs, -1);
  assert.throws(() => new CliCommandEvent({ command: "run", taskStatus: "success", durationMs: Infinity }), RangeError);
  assert.throws(
    () => new CliCommandEvent({ command: "run", taskStatus: "success", durationMs: -Infinity }),
    RangeError,
  );
  assert.equal(new CliCommandEvent({ command: "r", taskStatus: "success", durationMs: -1 }).fields.durationMs, -1);
  assert.equal(new CliCommandEvent({ command: "r", taskStatus: "success", durationMs: 12.9 }).fields.durationMs, 12);
});

test('CliCommandEvent sends no user text passed on: a path, an address, an error\'s message are "undefined"', () => {
  const { command, subcommand, errorClass } = new CliCommandEvent({
    command: "/home/ada/Clients/acme-merger.docx",
    subcommand: "ada@example.com",
    taskStatus: "failure",
    errorClass: "cannot open /home/ada/Clients/acme-merger.docx",
  }).parameters();
  assert.deepEqual([command, subcommand, errorClass], ["undefined", "undefined", "undefined"]);
  const named = new CliCommandEvent({
    command: "db migrate",
    subcommand: "up",
    taskStatus: "failure",
    errorClass: "ValueError",
  }).parameters();
  assert.deepEqual([named.command, named.subcommand, named.errorClass], ["db migrate", "up", "ValueError"]);
  for (const errorClass of ["requests.exceptions.HTTPError", "Foo::Bar", "ÜberError", "$Error"]) {
    assert.equal(
      new CliCommandEvent({ command: "run", taskStatus: "failure", errorClass }).parameters().errorClass,
      errorClass,
    );
  }
});

test('names in any script are reported; invisible, combining, control and lone surrogate characters make them "undefined"', () => {
  const reported = (command: string, errorClass = "ValueError") => {
    const parameters = new CliCommandEvent({ command, taskStatus: "failure", errorClass }).parameters();
    return [parameters.command, parameters.errorClass];
  };
  assert.deepEqual(reported("déployer", "Über.Fehler"), ["déployer", "Über.Fehler"]);
  assert.deepEqual(reported("部署 上线", "配置错误"), ["部署 上线", "配置错误"]);
  // A lone surrogate is no text at all: a UTF-8 reader (the Python ingest's) fails on it.
  for (const command of ["run\u200b", "e\u0301t\u00e9", "\u3164", "ru\u0007n", "d\ue000b", "dep\ud800loy", "\udc00"]) {
    assert.deepEqual(reported(command), ["undefined", "ValueError"], JSON.stringify(command));
  }
  for (const errorClass of ["Über Fehler", "Über\u200bError", "9Über", "Über\ud800"]) {
    assert.deepEqual(reported("run", errorClass), ["run", "undefined"], JSON.stringify(errorClass));
  }
});

test("CliCommandEvent rejects wrong types and values outside the value sets, with a clear message", () => {
  // deno-lint-ignore no-explicit-any
  const make = (init: any) => () => new CliCommandEvent(init);
  assert.throws(make({ command: "run", taskStatus: "done" }), /'taskStatus' must be one of "success", "failure"/);
  // The string "undefined" is a status; a missing one is not: the message tells them apart.
  assert.throws(make({ command: "run" }), /, "undefined", got undefined$/);
  assert.throws(make({ command: "run", taskStatus: "success", nemoSource: "x" }), TypeError);
  assert.throws(make({ command: { name: "run" }, taskStatus: "success" }), /'command' must be a string, got/);
  assert.throws(make({ taskStatus: "success" }), /'command' must be a string, got undefined/);
  // What a user's run may leave out (`process.argv[2]` when nothing was typed), or a number it typed where an
  // argument parser makes one (`mycli 42`: yargs' `argv._[0]`), is recorded as a run's data, not thrown at the user.
  for (const command of [undefined, 42]) {
    assert.equal(
      new CliCommandEvent({ command: command as unknown as string, taskStatus: "success" }).fields.command,
      "undefined",
    );
  }
  // So is a subcommand (`mycli scale 3`: yargs' `argv._[1]`).
  assert.equal(
    new CliCommandEvent({ command: "scale", subcommand: 3 as unknown as string, taskStatus: "success" }).fields
      .subcommand,
    "undefined",
  );
  // And an exit code as the runtimes take it: Deno keeps `process.exitCode = "1"` a string.
  assert.equal(new CliCommandEvent({ command: "run", taskStatus: "failure", exitCode: "1" }).fields.exitCode, 1);
  assert.throws(make({ command: "run", taskStatus: "success", exitCode: "one" }), /'exitCode' must be an integer/);
  assert.throws(make({ command: "run", taskStatus: "success", exitCode: "1e300" }), /'exitCode' must be an integer/);
  assert.throws(make({ command: "run", taskStatus: "success", exitCode: 1.5 }), /'exitCode' must be an integer/);
  assert.throws(make({ command: "run", taskStatus: "success", durationMs: "12" }), TypeError);
  assert.throws(make({ command: "run", taskStatus: "success", timestamp: "yesterday" }), TypeError);
  // The Python handler's field names, or none at all: said as such, not an error from inside.
  assert.throws(
    make({ command: "run", taskStatus: "success", exit_code: 2 }),
    /^TypeError: Cannot create event: 'exit_code' is not a field \(did you mean 'exitCode'\?\)$/,
  );
  assert.throws(make(null), /^TypeError: Cannot create event: its fields must be an object, got null$/);
  assert.throws(make(undefined), /^TypeError: Cannot create event: its fields must be an object, got undefined$/);
});

test("an event type must declare a name: it does not compile without one and throws in JavaScript", () => {
  class Nameless extends TelemetryEvent {
    constructor() {
      // @ts-expect-error: an event type without a name does not compile (checked by `deno check`).
      super();
    }
    parameters(): EventParameters {
      return {};
    }
  }
  assert.throws(() => new Nameless(), /an event type must declare a name/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => new (TelemetryEvent as any)("x"), /TelemetryEvent is abstract/);
});

test("a custom event keeps its name, schema version and timestamp", () => {
  class Download extends TelemetryEvent {
    constructor() {
      super("model_download", { schemaVersion: "2.0", timestamp: 1000 });
    }
    parameters(): EventParameters {
      return { model: "m" };
    }
  }
  const event = new Download();
  assert.deepEqual([event.name, event.schemaVersion, event.timestamp], ["model_download", "2.0", 1000]);
});
