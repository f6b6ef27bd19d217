/**
 * The first-run prompt, for real: the child runs on a pseudo-terminal made by
 * script(1), and the test types at it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import process from "node:process";
import { askForConsent, PROMPT_VERSION } from "../mod.ts";
import { consentDisclosure, DISCLOSED_ITEMS, editLine, parseAnswer, TYPED_AHEAD_MS } from "../src/prompt.ts";
import { canRun, fixturePath, runChild, runtimeCommand } from "./helpers/child.ts";
import { tempDir } from "./helpers/spool_dir.ts";
import { runtimeInfo } from "../src/runtime/mod.ts";

const skip = !canRun("script", "--version") && "needs script(1) for a pseudo-terminal";

/**
 * Variables that decide, or tell that no one is there to answer: a child is a user's program, in none of them unless
 * a test sets it (not even the test command's own: `bun test` sets NODE_ENV=test).
 */
const UNASKED_BY = ["NAT_TELEMETRY_ENABLED", "DO_NOT_TRACK", "CI", "NODE_ENV", "JEST_WORKER_ID", "VITEST"];

/**
 * Runs the prompt fixture on a pseudo-terminal, types `keys` once the question shows, and returns the screen.
 * `background` runs it as a background job of a shell with job control (`my-cli &`).
 */
function onTerminal(
  consentFile: string,
  keys: string | string[],
  env: Record<string, string> = {},
  background = false,
  fixtureCommand = runtimeCommand(fixturePath("prompt_child.ts")),
  later = "",
  ahead = "",
): Promise<string> {
  const fixture = fixtureCommand.map((part) => `'${part}'`).join(" ");
  const command = background ? `set -m; ${fixture} & wait` : fixture;
  const childEnv: Record<string, string> = { ...process.env as Record<string, string>, ...env };
  for (const key of UNASKED_BY) if (!(key in env)) delete childEnv[key];
  childEnv.NAT_TELEMETRY_CONSENT_FILE = consentFile;
  childEnv.NAT_TELEMETRY_SPOOL_DIR = "";
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], { env: childEnv, stdio: ["pipe", "pipe", "pipe"] });
    // Keys typed before the question shows, waiting in the terminal.
    if (ahead) child.stdin.write(ahead);
    let screen = "";
    // One answer to each time the question shows (a repeat after an unclear one), as a person answers: once it could
    // be read (keys sooner are taken as typed ahead).
    const answers = typeof keys === "string" ? [keys] : [...keys];
    let shown = 0;
    let typed = false;
    const limit = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.stdout.on("data", (chunk) => {
      screen += chunk;
      const times = screen.split("[y/n]").length - 1;
      if (times > shown && answers.length > 0) {
        shown = times;
        typed = true;
        const answer = answers.shift()!;
        setTimeout(() => child.stdin.write(answer), TYPED_AHEAD_MS + 150);
      }
      // Keys typed once the program goes on, after the answer: as a person types them.
      if (later && typed && screen.includes("RESULT ")) {
        child.stdin.write(later);
        later = "";
      }
    });
    child.on("error", reject);
    child.on("close", () => {
      clearTimeout(limit);
      child.stdin.destroy();
      resolve(screen.replaceAll("\r", ""));
    });
  });
}

function result(screen: string): { state: string; enabled: boolean } {
  const line = screen.split("\n").find((l) => l.startsWith("RESULT "));
  assert.ok(line, `no result on screen:\n${screen}`);
  return JSON.parse(line.slice("RESULT ".length));
}

function recorded(file: string): string | undefined {
  return existsSync(file) ? /consent = "(\w+)"/.exec(readFileSync(file, "utf8"))?.[1] : undefined;
}

test("the question discloses everything either tool collects under prompt version 1.0", () => {
  // Pinned: changing what is disclosed means a new prompt version, in both tools.
  assert.deepEqual(DISCLOSED_ITEMS, [
    "the product and the command that ran, and a subcommand the program registered",
    "how it ended: success, failure or interrupted, the exit code, and the class name of an error " +
    "(such as ValueError or TypeError; never its message)",
    "how long it took",
    "the language runtime and its version (Python, Node.js, Deno or Bun) and the CPU architecture",
    "the tool's version, a random id for the run, and when the events happened and were sent",
  ]);
  assert.equal(PROMPT_VERSION, "1.0");
  // Every field that carries data, in the Python tool's envelope and ours, is named by an item.
  const named: Record<string, RegExp> = {
    nemoSource: /the product/,
    command: /the command that ran/,
    subcommand: /a subcommand/,
    taskStatus: /success, failure or interrupted/,
    durationMs: /how long it took/,
    exitCode: /the exit code/,
    errorClass: /the class name of an error \(such as ValueError/,
    pythonVersion: /the language runtime and its version \(Python, Node.js, Deno or Bun\)/,
    cpuArchitecture: /the CPU architecture/,
    clientVer: /the tool's version/,
    sessionId: /a random id for the run/,
    sentTs: /when the events happened and were sent/,
    ts: /when the events happened/,
  };
  const envelope = JSON.parse(
    readFileSync(new URL("./vectors/envelope-nat_cli_command-1.5.json", import.meta.url), "utf8"),
  );
  const placeholders = new Set([
    "undefined",
    "None",
    "184482118588404",
    "Native",
    "Release",
    "1.6",
    "1.5",
    "nat-telemetry/1.0",
  ]);
  const carried = [
    ...Object.entries(envelope).filter(([key, value]) => key !== "events" && !placeholders.has(value as string)).map((
      [key],
    ) => key),
    ...Object.keys(envelope.events[0]).filter((key) => key !== "parameters" && key !== "name"),
    ...Object.keys(envelope.events[0].parameters),
  ];
  assert.deepEqual(carried.filter((field) => !(field in named)), [], "a field no item names");
  for (const [field, words] of Object.entries(named)) assert.match(consentDisclosure(), words, field);
});

test("the line editor: characters, backspace, Enter, Ctrl-C and Ctrl-D", () => {
  const keys = (text: string) => new TextEncoder().encode(text);
  const typed: { text: string; result?: string | null } = { text: "" };
  assert.equal(editLine(typed, keys("nx\x7fo\r")), "nx\b \bo\n");
  assert.equal(typed.result, "no");
  for (const cancel of ["\x03", "\x04"]) {
    const state: { text: string; result?: string | null; interrupted?: boolean } = { text: "" };
    editLine(state, keys(`y${cancel}`));
    assert.equal(state.result, null);
    assert.equal(state.interrupted, cancel === "\x03" ? true : undefined, "only Ctrl-C is an interrupt");
  }
  assert.deepEqual(["", " ", "y", "YES", "n", " no ", "maybe"].map(parseAnswer), [
    undefined,
    undefined,
    "enabled",
    "enabled",
    "disabled",
    "disabled",
    undefined,
  ]);
});

test("on a terminal, y means yes: recorded, and on for this run", { skip }, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const screen = await onTerminal(file, "y\r", { NAT_TEST_OPT_OUT: "mycli telemetry disable" });
  assert.match(screen, /never collects:\n {2}- arguments, file paths or file contents/);
  assert.match(screen, /Change your mind any time: `mycli telemetry disable`/, "the opt-out its users have");
  assert.ok(screen.includes(`(they share ${file})`), "the file NAT_TELEMETRY_CONSENT_FILE names, where it is saved");
  assert.deepEqual(result(screen), { state: "enabled", enabled: true });
  assert.equal(recorded(file), "enabled");
});

test("Enter alone is no answer, and keys typed before the question shows are dropped: a yes is typed after it", {
  skip,
}, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  // A pasted "y" and Enters typed ahead are dropped; an Enter alone asks again; the answer typed after it counts.
  const screen = await onTerminal(file, ["\r", "n\r"], {}, false, undefined, "", "\r\ry\r");
  assert.deepEqual(result(screen), { state: "disabled", enabled: false }, screen);
  assert.equal(recorded(file), "disabled");
  assert.doesNotMatch(screen, /\[y\/n\] y/, "what was typed ahead is not echoed as typed");
  assert.equal(screen.split("Please answer y or n.").length - 1, 1, "asked again once, after the Enter alone");
  // A program that works on before it awaits the question: it shows after that work, and a "y" typed before it is
  // dropped as typed ahead, not read late as an answer.
  rmSync(file);
  const busy = await onTerminal(file, ["n\r", "n\r"], { NAT_TEST_MODE: "busy" }, false, undefined, "", "y\r");
  assert.deepEqual(result(busy), { state: "disabled", enabled: false }, busy);
});

test("on a terminal, n means no", { skip }, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  assert.deepEqual(result(await onTerminal(file, "n\r")), { state: "disabled", enabled: false });
  assert.equal(recorded(file), "disabled");
});

test("end of input (Ctrl-D) means no", { skip }, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  assert.deepEqual(result(await onTerminal(file, "\x04")), { state: "disabled", enabled: false });
  assert.equal(recorded(file), "disabled");
});

/** How the prompt fixture ended, run under `exit_report_child.ts` on the terminal, with Ctrl-C typed at the question. */
async function interruptedAtQuestion(consentFile: string) {
  const prompt = runtimeCommand(fixturePath("prompt_child.ts"));
  const screen = await onTerminal(consentFile, "\x03", {}, false, [
    ...runtimeCommand(fixturePath("exit_report_child.ts")),
    ...prompt,
  ]);
  const line = screen.split("\n").find((l) => l.startsWith("CHILD "));
  assert.ok(line, `no report on screen:\n${screen}`);
  return { screen, ended: JSON.parse(line.slice("CHILD ".length)) as { code: number | null; signal: string | null } };
}

test("Ctrl-C at the question records nothing and ends the program as Ctrl-C would: it dies of SIGINT", {
  skip,
}, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const { screen, ended } = await interruptedAtQuestion(file);
  assert.match(screen, /\[y\/n\] \^C\n/, "the question was asked, and Ctrl-C echoed");
  assert.deepEqual(ended, { code: null, signal: "SIGINT" }, screen);
  assert.doesNotMatch(screen, /RESULT /, "the program did not go on");
  assert.doesNotMatch(screen, /Usage data will/, "no decision announced");
  assert.equal(existsSync(file), false, "nothing recorded: the question is asked again next time");
});

test("a signal at the question (a kill, an IDE's stop) ends the program and gives the terminal back as it was", {
  skip: (skip || !canRun("pgrep", "--version")) && "needs script(1) and pgrep",
}, async () => {
  using dir = tempDir();
  const fixture = runtimeCommand(fixturePath("prompt_child.ts")).map((part) => `'${part}'`).join(" ");
  const env: Record<string, string> = {
    ...process.env as Record<string, string>,
    NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/telemetry.toml`,
  };
  for (const key of UNASKED_BY) delete env[key];
  // After the program, the terminal's modes, as the user's shell would find them.
  const child = spawn("script", ["-qec", `${fixture}; stty -a`, "/dev/null"], { env, stdio: ["pipe", "pipe", "pipe"] });
  const limit = setTimeout(() => child.kill("SIGKILL"), 20_000);
  let screen = "";
  let signalled = false;
  child.stdout.on("data", (chunk) => {
    screen += chunk;
    if (signalled || !screen.includes("[y/n]")) return;
    signalled = true;
    // The program is the deepest process under script(1) and its shell.
    let program = String(child.pid);
    for (let next = children(program); next.length > 0; next = children(program)) program = next[0];
    process.kill(Number(program), "SIGTERM");
  });
  await new Promise((resolve) => child.on("close", resolve));
  clearTimeout(limit);
  child.stdin.destroy();
  assert.ok(signalled, `the question was not asked:\n${screen}`);
  assert.match(screen, /(^|[\s;])icanon\b/m, `canonical mode back:\n${screen}`);
  assert.match(screen, /(^|[\s;])echo\b/m, `echo back:\n${screen}`);
  assert.doesNotMatch(screen, /RESULT /, "the program did not go on");
});

/** The process ids of a process's children. */
function children(pid: string): string[] {
  try {
    return execFileSync("pgrep", ["-P", pid], { encoding: "utf8" }).split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

test("an unclear answer asks again", { skip }, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const screen = await onTerminal(file, ["maybe\r", "y\r"]);
  assert.match(screen, /Please answer y or n/);
  assert.deepEqual(result(screen), { state: "enabled", enabled: true });
});

test("a decision already made, or NAT_TELEMETRY_ENABLED, means no question", { skip }, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  writeFileSync(file, '[telemetry]\nconsent = "disabled"\nprompt_version = "1.0"\n');
  const decided = await onTerminal(file, "");
  assert.doesNotMatch(decided, /\[y\/n\]/);
  assert.deepEqual(result(decided), { state: "disabled", enabled: false });
  const overridden = await onTerminal(`${dir.path}/other.toml`, "", { NAT_TELEMETRY_ENABLED: "0" });
  assert.doesNotMatch(overridden, /\[y\/n\]/);
  assert.equal(recorded(`${dir.path}/other.toml`), undefined);
  // A program's own setting (setTelemetryEnabled, as the README shows): its user has answered it; trackCommand asks
  // nothing, and a key typed at a question would have turned it on.
  const programs = await onTerminal(`${dir.path}/own.toml`, "\r", { NAT_TEST_MODE: "program-setting" });
  assert.doesNotMatch(programs, /\[y\/n\]/);
  assert.deepEqual(result(programs), { state: "never_asked", enabled: false });
  assert.equal(recorded(`${dir.path}/own.toml`), undefined);
});

test("a background job (`my-cli &`) is never asked, so the shell never stops it", { skip }, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const screen = await onTerminal(file, "", {}, true);
  assert.doesNotMatch(screen, /\[y\/n\]/);
  assert.deepEqual(result(screen), { state: "never_asked", enabled: false });
  assert.equal(recorded(file), undefined);
});

test("a process asks once: commands at the same time share the question, and an answer not saved holds", {
  skip,
}, async () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/not-a-dir`, "");
  const file = `${dir.path}/not-a-dir/telemetry.toml`; // cannot be saved: asked again next run, not next command
  const screen = await onTerminal(file, "y\r", { NAT_TEST_MODE: "concurrent" });
  assert.equal(screen.split("[y/n]").length - 1, 1, `asked once:\n${screen}`);
  assert.match(screen, /could not be saved/);
  assert.deepEqual(result(screen), { state: ["enabled", "enabled", "enabled", "enabled"], enabled: true });
});

test("a program that reads its input itself (a shell of its own) is not asked: the question would take its keys", {
  skip,
}, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const screen = await onTerminal(file, "", { NAT_TEST_MODE: "shell" });
  assert.doesNotMatch(screen, /\[y\/n\]/);
  assert.deepEqual(result(screen), { state: "never_asked", enabled: false });
  assert.equal(recorded(file), undefined, "asked on a later run that does not read its input first");
  // One that reads it in its own time (paused) is not asked either.
  const paused = await onTerminal(file, "", { NAT_TEST_MODE: "reader-paused" });
  assert.doesNotMatch(paused, /\[y\/n\]/);
  assert.deepEqual(result(paused), { state: "never_asked", enabled: false });
  // A menu that picked the command with readline, closed before the command runs, is asked.
  const closed = await onTerminal(file, "y\r", { NAT_TEST_MODE: "shell-closed" });
  assert.deepEqual(result(closed), { state: "enabled", enabled: true });
  assert.equal(recorded(file), "enabled");
});

test("keys typed ahead of the program's own prompt, after the answer, are left for it", {
  skip: (skip || process.versions.deno !== undefined) && "Node.js and Bun (Deno cannot put keys back)",
}, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const screen = await onTerminal(file, "y\rmyproj\r", { NAT_TEST_MODE: "typeahead" });
  assert.deepEqual(result(screen), { state: "enabled", enabled: true });
  assert.match(screen, /^LINE myproj$/m);
});

test("keys typed after the answer reach a program that reads its input with a data listener, or for await", {
  skip: (skip || process.versions.deno !== undefined) && "Node.js and Bun (Deno cannot put keys back)",
}, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const screen = await onTerminal(file, "y\ryes\r", { NAT_TEST_MODE: "typeahead-data" });
  assert.deepEqual(result(screen), { state: "enabled", enabled: true });
  assert.match(screen, /^DATA "yes\\r"$/m, "its input flows to it: the question left it as no one had read it");
  // Typed once the program reads: Bun's stdin must not let go of its reader under a program that reads at once.
  const command = runtimeCommand(fixturePath("prompt_child.ts"));
  for (const mode of ["typeahead-data", "typeahead-iterator"]) {
    rmSync(file, { force: true });
    const typedLater = await onTerminal(file, "y\r", { NAT_TEST_MODE: mode }, false, command, "later\r");
    assert.match(typedLater, /^DATA "later(\\r|\\n)"$/m, `${mode}: ${typedLater.slice(-200)}`);
  }
});

test("a terminal that goes away at the question (its window closed) records nothing: no one answered", {
  skip,
}, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const childEnv: Record<string, string> = { ...process.env as Record<string, string> };
  for (const key of UNASKED_BY) delete childEnv[key];
  Object.assign(childEnv, { NAT_TELEMETRY_CONSENT_FILE: file, NAT_TELEMETRY_SPOOL_DIR: "", NAT_TEST_MODE: "hangup" });
  const fixture = runtimeCommand(fixturePath("prompt_child.ts")).map((part) => `'${part}'`).join(" ");
  // `exec`: the program leads the terminal's session, as a command run in a terminal window does.
  const terminal = spawn("script", ["-qec", `exec ${fixture}`, "/dev/null"], { env: childEnv, stdio: "pipe" });
  let screen = "";
  await new Promise<void>((resolve) => {
    terminal.stdout.on("data", (chunk) => {
      screen += chunk;
      if (screen.includes("[y/n]")) resolve();
    });
  });
  terminal.kill("SIGKILL"); // the terminal's end closed: the kernel hangs the program's terminal up
  const outcome = `${dir.path}/result.json`;
  for (let waited = 0; !existsSync(outcome) && waited < 15_000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.deepEqual(JSON.parse(readFileSync(outcome, "utf8")), { state: "never_asked", enabled: false });
  assert.equal(recorded(file), undefined, "no answer recorded");
});

test("in CI, a terminal (docker run -t, a runner's pseudo-terminal) is not asked: no one is there to answer", {
  skip,
}, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const screen = await onTerminal(file, "", { CI: "true" });
  assert.doesNotMatch(screen, /\[y\/n\]/);
  assert.deepEqual(result(screen), { state: "never_asked", enabled: false });
});

test("under a test runner (a CLI's tests calling its main: Jest, Vitest, bun test), a terminal is not asked", {
  skip,
}, async () => {
  const runners: Record<string, string>[] = [{ JEST_WORKER_ID: "1" }, { VITEST: "true" }, { NODE_ENV: "test" }];
  for (const env of runners) {
    using dir = tempDir();
    const screen = await onTerminal(`${dir.path}/telemetry.toml`, "", env);
    assert.doesNotMatch(screen, /\[y\/n\]/, JSON.stringify(env));
    assert.deepEqual(result(screen), { state: "never_asked", enabled: false });
  }
  // Set to nothing, or to no, as CI: a user's run, asked.
  using dir = tempDir();
  const screen = await onTerminal(`${dir.path}/telemetry.toml`, "n\r", { VITEST: "false", JEST_WORKER_ID: "" });
  assert.deepEqual(result(screen), { state: "disabled", enabled: false });
});

test("under node --test without isolation (the tests in the runner's own process), a terminal is not asked", {
  skip: skip || (runtimeInfo().name !== "node" && "Node.js's test runner"),
}, async () => {
  using dir = tempDir();
  const command = [process.execPath, "--test", "--test-isolation=none", fixturePath("prompt_child.ts")];
  const screen = await onTerminal(`${dir.path}/telemetry.toml`, "", {}, false, command);
  assert.doesNotMatch(screen, /\[y\/n\]/);
  assert.deepEqual(result(screen), { state: "never_asked", enabled: false });
});

test("in CI named by a value that is not valid UTF-8 (which Deno cannot read), a terminal is not asked either", {
  skip,
}, async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const command = [
    "/bin/sh",
    "-c",
    'CI="$(printf "tru\\377")" exec "$@"',
    "sh",
    ...runtimeCommand(fixturePath("prompt_child.ts")),
  ];
  const screen = await onTerminal(file, "", {}, false, command);
  assert.doesNotMatch(screen, /\[y\/n\]/);
  assert.deepEqual(result(screen), { state: "never_asked", enabled: false });
});

test("without a terminal (a pipe, CI) nothing is asked and nothing recorded", async () => {
  using dir = tempDir();
  const file = `${dir.path}/telemetry.toml`;
  const run = await runChild("prompt_child.ts", { env: { NAT_TELEMETRY_CONSENT_FILE: file } });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, "");
  assert.deepEqual(result(run.stdout), { state: "never_asked", enabled: false });
  assert.equal(existsSync(file), false);
});

test("the question names the opt-out its users have: the CLI's own command, never nat-telemetry", () => {
  const own = consentDisclosure("mycli telemetry disable");
  assert.match(own, /Change your mind any time: `mycli telemetry disable` \(or NAT_TELEMETRY_ENABLED=0\)/);
  assert.match(consentDisclosure(), /NAT_TELEMETRY_ENABLED=0/);
  for (const text of [own, consentDisclosure()]) assert.doesNotMatch(text, /nat-telemetry/);
});

test("options the question cannot use are a TypeError, whether or not it would ask: never shown to the user", async () => {
  const wrong: [unknown, RegExp][] = [
    [{ optOut: 5 }, /^Cannot ask for consent: 'optOut' must be a non-empty command of one line, .*got 5$/],
    [{ optOut: "mycli\x1b[2Jtelemetry disable" }, /'optOut' must be a non-empty command of one line/],
    [{ optOut: "mycli telemetry disable\nrm -rf" }, /'optOut' must be a non-empty command of one line/],
    [{ optOut: " " }, /'optOut' must be a non-empty command/],
    [{ optout: "mycli telemetry disable" }, /'optout' is not an option \(did you mean 'optOut'\?\)/],
    ["mycli telemetry disable", /options must be an object such as \{ optOut: .* \}, got "mycli telemetry disable"/],
    [null, /options must be an object/],
  ];
  for (const [options, message] of wrong) {
    await assert.rejects(askForConsent(options as { optOut?: string }), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, message);
      return true;
    });
  }
});

test(
  "a run whose user was never asked, its output going to a pipe, does not make process.stdin (Node.js: ~2 ms)",
  {
    skip: runtimeInfo().name === "deno"
      ? "Deno's host asks Deno.stdin, which costs nothing"
      : runtimeInfo().name === "bun" && "Bun's process.stdin is made without a getter that could be watched",
  },
  async () => {
    using dir = tempDir();
    const env = {
      CI: undefined,
      NAT_TELEMETRY_ENABLED: undefined,
      DO_NOT_TRACK: undefined,
      NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/telemetry.toml`,
      NAT_TELEMETRY_SPOOL_DIR: dir.path,
    };
    const run = await runChild("stdin_reads_child.ts", { env });
    assert.deepEqual([run.code, run.stderr, JSON.parse(run.stdout)], [0, "", { reads: 0 }]);
    assert.equal(existsSync(`${dir.path}/telemetry.toml`), false, "not asked: nothing recorded");
  },
);
