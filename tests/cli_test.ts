/** The nat-telemetry command, run as a child process of the runtime under test. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { Buffer } from "node:buffer";
import process from "node:process";
import {
  canRun,
  type ChildOptions,
  fixturePath,
  runChild,
  runtimeCommand,
  startChild,
  UNSET_PROXY_VARIABLES,
} from "./helpers/child.ts";
import { NATTelemetryHandler, setTelemetryEnabled } from "../mod.ts";
import { commandEvent, commands } from "./helpers/events.ts";
import { TestServer } from "./helpers/server.ts";
import { files, spooled, spoolEvent, tempDir } from "./helpers/spool_dir.ts";
import { formatTimestamp } from "../src/envelope.ts";
import { shortHash } from "../src/hash.ts";
import { host, runtimeInfo } from "../src/runtime/mod.ts";
import { recordDrops } from "../src/drops_record.ts";
import { spoolKey } from "../src/spool.ts";

/** Runs `nat-telemetry ARGS` with a consent file and spool in `dir`, and no proxy the test machine may have. */
function cli(dir: string, args: string[], env: ChildOptions["env"] = {}, options: ChildOptions = {}) {
  return runChild("../../src/cli.ts", {
    ...options,
    args,
    env: {
      ...UNSET_PROXY_VARIABLES,
      NAT_TELEMETRY_CONSENT_FILE: `${dir}/telemetry.toml`,
      NAT_TELEMETRY_SPOOL_DIR: `${dir}/spool`,
      ...env,
    },
  });
}

test("status: off by default, and says why", async () => {
  using dir = tempDir();
  const run = await cli(dir.path, []);
  assert.equal(run.code, 0);
  assert.equal(
    run.stdout,
    "Telemetry: disabled\nDecided by: the default: nobody has decided yet\n" +
      "Endpoint: https://events.telemetry.data.nvidia.com/v1.1/events/json (the default)\n" +
      "Format: nat (the default)\nProxy: none (no proxy variable is set for https: URLs)\n" +
      `Spool: ${dir.path}/spool\nAt exit: nothing is delivered (telemetry is disabled)\n`,
  );
  const json = JSON.parse((await cli(dir.path, ["status", "--json"])).stdout);
  assert.deepEqual(json, {
    enabled: false,
    source: "default",
    consentFile: `${dir.path}/telemetry.toml`,
    fileState: "never_asked",
    overriddenByEnvironment: false,
    endpoint: "https://events.telemetry.data.nvidia.com/v1.1/events/json",
    endpointSource: "the default",
    format: "nat",
    formatSource: "the default",
    proxy: { route: "direct", because: "no proxy variable is set for https: URLs" },
    spoolDir: `${dir.path}/spool`,
    noSpool: null,
    atExit: { handOff: false, reason: "telemetry is disabled", outcome: "dropped" },
    problems: [],
    optionProblems: [],
  });
  assert.equal(existsSync(`${dir.path}/spool`), false, "status with telemetry off creates no spool directory");
});

test("status shows the settings in force: endpoint, format, spool, and whether the exit hands off and why", async () => {
  using dir = tempDir();
  const env = {
    NAT_TELEMETRY_ENABLED: "1",
    NAT_TELEMETRY_ENDPOINT: "http://127.0.0.1:9/v1/logs",
    NAT_TELEMETRY_FORMAT: "otlp",
    CI: undefined,
  };
  const inProcess = await cli(dir.path, ["status"], { ...env, NAT_TELEMETRY_HANDOFF: "0" });
  assert.equal(
    inProcess.stdout,
    "Telemetry: enabled\nDecided by: the NAT_TELEMETRY_ENABLED environment variable\n" +
      "Endpoint: http://127.0.0.1:9/v1/logs (NAT_TELEMETRY_ENDPOINT)\nFormat: otlp (NAT_TELEMETRY_FORMAT)\n" +
      "Proxy: none (no proxy variable is set for http: URLs)\n" +
      `Spool: ${dir.path}/spool\nAt exit: events are delivered in process (the hand-off is off (NAT_TELEMETRY_HANDOFF))\n`,
  );
  const handOff = JSON.parse(
    (await cli(dir.path, ["status", "--json"], { ...env, NAT_TELEMETRY_HANDOFF: undefined })).stdout,
  );
  assert.deepEqual(handOff.atExit, { handOff: true });
  assert.match(
    (await cli(dir.path, ["status"], { ...env, NAT_TELEMETRY_HANDOFF: undefined })).stdout,
    /\nAt exit: events are handed off to a sender process\n/,
  );
  const printed = JSON.parse(
    (await cli(dir.path, ["status", "--json"], { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: "stdout" }))
      .stdout,
  );
  assert.deepEqual(
    [printed.endpoint, printed.atExit],
    ["stdout", { handOff: false, reason: "the events do not go to an HTTP endpoint", outcome: "delivered" }],
  );
  const dryEnv = { NAT_TELEMETRY_DRY_RUN: "1", NAT_TELEMETRY_ENABLED: "1" };
  const dry = JSON.parse((await cli(dir.path, ["status", "--json"], dryEnv)).stdout);
  assert.deepEqual([dry.endpoint, dry.endpointSource], [null, "nothing is sent: NAT_TELEMETRY_DRY_RUN"]);
  assert.equal(dry.atExit.outcome, "dropped", "a dry run delivers nothing, in process or not");
  assert.match((await cli(dir.path, ["status"], dryEnv)).stdout, /At exit: nothing is delivered \(/);
  const secret = JSON.parse(
    (await cli(dir.path, ["status", "--json"], { NAT_TELEMETRY_ENDPOINT: "https://user:hunter2@example.com/e" }))
      .stdout,
  );
  assert.equal(secret.endpoint, "https://***:***@example.com/e", "credentials in the URL are not printed");
  const endpointShown = async (endpoint: string) => {
    const run = await cli(dir.path, ["status", "--json"], { NAT_TELEMETRY_ENDPOINT: endpoint });
    const { endpoint: shown, problems } = JSON.parse(run.stdout);
    return [shown, ...problems].join("\n");
  };
  assert.equal(
    await endpointShown("https://example.com/e?api-key=T0KEN&v=2"),
    "https://example.com/e?api-key=***&v=***",
  );
  assert.equal(
    await endpointShown("https://KEY1@example.com/e?KEY2"),
    "https://***@example.com/e?***",
    "a key as user, bare",
  );
  // Not a URL (a port out of range): its credentials are not printed in the problem either.
  assert.doesNotMatch(await endpointShown("https://ingest:S3CRET@example.com:99999/e"), /S3CRET/);
  // Nor where it is no URL with a host: a password with a `/` or `?` (a base64 key), a URL without its scheme.
  for (
    const endpoint of [
      "https://ada:S3CRET/x+y==@example.com/e",
      "https://ada:S3CRET?PW@example.com",
      "ada:S3CRET@h:1",
      // URLs all the same, of another host: the key's `/` or `#` ends the credentials early.
      "https://S3CRETa+B9/cD4=@example.com/v1",
      "http://ada:8/S3CRET==@example.com/v1",
      "http://ada:2024#S3CRET@example.com/v1",
    ]
  ) {
    assert.doesNotMatch(await endpointShown(endpoint), /S3CRET|PW/, endpoint);
  }
});

test(
  "status while the endpoint is known down still says so where no sender could start",
  { skip: runtimeInfo().name === "bun" && "Bun has no permission flags that refuse starting a process" },
  async () => {
    using dir = tempDir();
    const endpoint = "http://127.0.0.1:9/v1.1/events/json";
    mkdirSync(`${dir.path}/spool`, { mode: 0o700 });
    const down = { failures: 9, notBefore: Date.now() + 3_600_000 };
    writeFileSync(`${dir.path}/spool/health-${shortHash(endpoint)}.json`, JSON.stringify(down), { mode: 0o600 });
    const env = {
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_ENDPOINT: endpoint,
      NAT_TELEMETRY_HANDOFF: undefined,
      CI: undefined,
    };
    const status = async (options: ChildOptions = {}) =>
      JSON.parse((await cli(dir.path, ["status", "--json"], { ...env, ...options.env }, options)).stdout);
    const shown = await status();
    assert.deepEqual(shown.atExit, { handOff: true }, "down: spooled for a later run");
    assert.deepEqual(
      shown.problems.map((problem: string) => problem.replace(/before \S+$/, "before T")),
      ["the endpoint is down (9 failure(s) in a row): not tried before T"],
      "runs spool without trying it, whatever their way out",
    );
    // Every permission but starting processes.
    const { atExit } = await status(
      runtimeInfo().name === "deno"
        ? { denoFlags: ["--allow-read", "--allow-write", "--allow-env", "--allow-sys", "--allow-net"] }
        : { env: { NODE_OPTIONS: "--permission --allow-fs-read=* --allow-fs-write=*" } },
    );
    assert.equal(atExit.handOff, false, JSON.stringify(atExit));
    assert.match(atExit.reason, /--allow-run|--allow-child-process/);
  },
);

test(
  "Node.js --permission as docs/permissions.md grants it, on a first run: the directories are made, the decision and spool kept",
  { skip: runtimeInfo().name !== "node" && "Node.js's permission model" },
  async () => {
    using dir = tempDir();
    const home = `${dir.path}/home`;
    for (const made of [".config", ".local/state"]) mkdirSync(`${home}/${made}`, { recursive: true });
    const code = new URL("..", import.meta.url).pathname;
    const granted = [`${home}/.config/nat/*`, `${home}/.local/state/nat/*`];
    const flags = ["--permission", `--allow-fs-read=${code}`]
      .concat(granted.flatMap((path) => [`--allow-fs-read=${path}`, `--allow-fs-write=${path}`]));
    const env = {
      HOME: home,
      NAT_TELEMETRY_CONSENT_FILE: undefined,
      NAT_TELEMETRY_SPOOL_DIR: undefined,
      XDG_STATE_HOME: undefined,
      NAT_TELEMETRY_ENABLED: undefined,
      DO_NOT_TRACK: undefined,
      NODE_OPTIONS: flags.join(" "),
    };
    const enable = await cli(dir.path, ["enable"], env);
    assert.equal(enable.code, 0, enable.stderr);
    assert.match(readFileSync(`${home}/.config/nat/telemetry.toml`, "utf8"), /consent = "enabled"/);
    const status = JSON.parse((await cli(dir.path, ["status", "--json"], env)).stdout);
    assert.deepEqual([status.enabled, status.source], [true, "file"]);
    assert.equal(status.spoolDir, `${home}/.local/state/nat/telemetry`);
    assert.ok(existsSync(status.spoolDir), "the spool directory was made under what was granted");
  },
);

test(
  "Node.js --permission granting its code and the directory of the consent file and spool: both used, no sender",
  { skip: runtimeInfo().name !== "node" && "Node.js's permission model" },
  async () => {
    using dir = tempDir();
    const env = {
      NAT_TELEMETRY_ENABLED: undefined,
      DO_NOT_TRACK: undefined,
      NAT_TELEMETRY_HANDOFF: undefined,
      CI: undefined,
    };
    assert.equal((await cli(dir.path, ["enable"], env)).code, 0);
    const code = new URL("..", import.meta.url).pathname;
    // What is above the directory (/tmp) may not be read: the library does not look there, nor fail for it.
    const flags = `--permission --allow-fs-read=${code} --allow-fs-read=${dir.path}/ --allow-fs-write=${dir.path}/`;
    const run = await cli(dir.path, ["status", "--json"], { ...env, NODE_OPTIONS: flags });
    const { enabled, source, spoolDir, atExit, problems } = JSON.parse(run.stdout);
    assert.deepEqual([enabled, source, spoolDir, problems], [true, "file", `${dir.path}/spool`, []], run.stdout);
    assert.equal(atExit.handOff, false);
    assert.match(atExit.reason, /directories above the spool .*--allow-fs-read/);
    // A consent file it may not read could hold an opt-out: read as disabled, so that nothing is asked either.
    const narrower = `--permission --allow-fs-read=${code} --allow-fs-read=/proc --allow-fs-read=${dir.path}/spool/`;
    const blind = JSON.parse((await cli(dir.path, ["status", "--json"], { ...env, NODE_OPTIONS: narrower })).stdout);
    assert.deepEqual([blind.enabled, blind.source], [false, "file"], JSON.stringify(blind));
    assert.match(blind.problems.join("\n"), /telemetry\.toml may not be read \(the program's permissions\)/);
    // Opting out there cannot be saved, and the decision on disk cannot be known: not "disabled".
    const optOut = await cli(dir.path, ["disable"], { ...env, NODE_OPTIONS: narrower });
    assert.equal(optOut.code, 1);
    assert.match(optOut.stderr, /the decision it holds \(unknown: it may not be read \(the program's permissions\)\)/);
  },
);

test(
  "Deno whose permissions hide where the consent file is, or where its link leads: read as disabled, and why",
  { skip: runtimeInfo().name !== "deno" && "Deno's permissions" },
  async () => {
    using dir = tempDir();
    const env = { NAT_TELEMETRY_ENABLED: undefined, DO_NOT_TRACK: undefined, CI: undefined };
    mkdirSync(`${dir.path}/real`);
    symlinkSync(`${dir.path}/real`, `${dir.path}/link`);
    const real = { NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/real/telemetry.toml` };
    assert.equal((await cli(dir.path, ["enable"], { ...env, ...real })).code, 0);
    const consent = { NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/link/telemetry.toml` }; // as a linked ~/.config is
    const status = async (denoFlags: string[]) =>
      JSON.parse((await cli(dir.path, ["status", "--json"], { ...env, ...consent }, { denoFlags })).stdout);
    // The variable naming the file may not be read: an opt-out there could not be seen.
    const variables = "HOME,NAT_TELEMETRY_SPOOL_DIR,NAT_TELEMETRY_ENABLED,DO_NOT_TRACK";
    const hidden = await status(["--allow-read", "--allow-write", `--allow-env=${variables}`]);
    assert.deepEqual([hidden.enabled, hidden.source], [false, "file"]);
    assert.match(
      hidden.problems.join("\n"),
      /^the consent file cannot be found: the program may not read NAT_TELEMETRY_CONSENT_FILE/m,
    );
    // Nor can an opt-out be saved there: the default file is not the user's.
    const optOut = await cli(dir.path, ["disable"], { ...env, ...real }, {
      denoFlags: ["--allow-read", "--allow-write", `--allow-env=${variables}`],
    });
    assert.equal(optOut.code, 1);
    assert.match(optOut.stderr, /where it is cannot be known: the program may not read NAT_TELEMETRY_CONSENT_FILE/);
    assert.match(readFileSync(`${dir.path}/real/telemetry.toml`, "utf8"), /consent = "enabled"/, "left as it was");
    // HOME hidden, though another variable could name a home: where the file is cannot be known either.
    const home = JSON.parse(
      (await cli(dir.path, ["status", "--json"], {
        ...env,
        NAT_TELEMETRY_CONSENT_FILE: undefined,
        HOME: dir.path,
        USERPROFILE: `${dir.path}/other`,
      }, {
        denoFlags: [
          "--allow-read",
          "--allow-env=USERPROFILE,NAT_TELEMETRY_CONSENT_FILE,NAT_TELEMETRY_ENABLED,DO_NOT_TRACK",
        ],
      }))
        .stdout,
    );
    assert.deepEqual([home.enabled, home.source], [false, "file"]);
    assert.match(home.problems.join("\n"), /may not read HOME/);
    // An opt-out variable it may not read is taken as one.
    const dntFlags = ["--allow-read", "--allow-env=HOME,NAT_TELEMETRY_CONSENT_FILE,NAT_TELEMETRY_ENABLED"];
    const dnt = await status(dntFlags);
    assert.deepEqual([dnt.enabled, dnt.source], [false, "DO_NOT_TRACK"]);
    const said = (await cli(dir.path, ["status"], { ...env, ...consent }, { denoFlags: dntFlags })).stdout;
    assert.match(said, /Decided by: the DO_NOT_TRACK environment variable, which the program may not read/);
    // NAT_TELEMETRY_ENABLED, when it can be read, still goes before DO_NOT_TRACK, as it always does.
    const visible = { ...env, ...consent, NAT_TELEMETRY_ENABLED: "1" };
    const on = JSON.parse((await cli(dir.path, ["status", "--json"], visible, { denoFlags: dntFlags })).stdout);
    assert.deepEqual([on.enabled, on.source], [true, "NAT_TELEMETRY_ENABLED"]);
    // The link may be read, not where it leads: a matter of permissions, not of a file that cannot be read.
    const linked = await status([`--allow-read=${dir.path}/link`, "--allow-env"]);
    assert.deepEqual([linked.enabled, linked.source], [false, "file"]);
    assert.match(linked.problems.join("\n"), /may not be read where it leads \(the program's permissions\)/);
    assert.equal((await status(["--allow-read", "--allow-env"])).enabled, true, "granted: the opt-in is read");
  },
);

test("status names every value of the environment it does not understand, one line each; --json carries them", async () => {
  using dir = tempDir();
  const env = {
    NAT_TELEMETRY_ENABLED: "maybe",
    NAT_TELEMETRY_FORMAT: "xml",
    NAT_TELEMETRY_ENDPOINT: "ftp://x",
    NAT_TELEMETRY_HANDOFF: "perhaps",
    OTEL_EXPORTER_OTLP_HEADERS: "bad%20name=v",
    NAT_TELEMETRY_SPOOL_DIR: "relative/spool",
  };
  const run = await cli(dir.path, ["status"], env);
  assert.equal(run.code, 0);
  assert.equal(run.stderr, "");
  const problems = run.stdout.split("\n").filter((line) => line.startsWith("Problem: "));
  assert.deepEqual(problems.map((line) => /^Problem: ([A-Z_]+)/.exec(line)?.[1]), [
    "NAT_TELEMETRY_ENABLED",
    "NAT_TELEMETRY_ENDPOINT",
    "NAT_TELEMETRY_FORMAT",
    "NAT_TELEMETRY_HANDOFF",
    "NAT_TELEMETRY_SPOOL_DIR",
    "OTEL_EXPORTER_OTLP_HEADERS",
  ]);
  assert.match(run.stdout, /^Problem: NAT_TELEMETRY_ENABLED="maybe" is not a yes\/no value .*: read as no/m);
  assert.match(run.stdout, /^Problem: NAT_TELEMETRY_FORMAT="xml" is not a format \(nat, otlp\)/m);
  assert.match(run.stdout, /^Problem: NAT_TELEMETRY_ENDPOINT="ftp:\/\/x" is not an http\(s\) URL/m);
  assert.match(
    run.stdout,
    /^Problem: OTEL_EXPORTER_OTLP_HEADERS: an entry's name is not a header name .*: skipped, not sent$/m,
  );
  assert.match(run.stdout, /^Endpoint: none \(nothing is sent: NAT_TELEMETRY_ENDPOINT is not an http\(s\) URL\)$/m);
  assert.match(run.stdout, /^Format: nat \(the default\)$/m);
  assert.match(run.stdout, /^Spool: none \(NAT_TELEMETRY_SPOOL_DIR is not an absolute path\)$/m);
  const json = JSON.parse((await cli(dir.path, ["status", "--json"], env)).stdout);
  assert.deepEqual(json.problems, problems.map((line) => line.slice("Problem: ".length)), "--json carries the same");
  assert.deepEqual((JSON.parse((await cli(dir.path, ["status", "--json"])).stdout)).problems, []);
  // A URL whose '@' the parser read past its host (a key's '/', not percent-encoded): said as it is, masked.
  const cut = await cli(dir.path, ["status"], { NAT_TELEMETRY_ENDPOINT: "https://S3CRET/b64=@example.com/e" });
  assert.match(cut.stdout, /^Endpoint: none \(nothing is sent: NAT_TELEMETRY_ENDPOINT has an '@' past its host\)$/m);
  assert.doesNotMatch(cut.stdout, /S3CRET/);
});

test("status says why a consent file that is not valid UTF-8 is read as disabled", async () => {
  using dir = tempDir();
  const decision = '[telemetry]\nconsent = "enabled"\nprompt_version = "1.0"\n';
  writeFileSync(
    `${dir.path}/telemetry.toml`,
    Buffer.concat([Buffer.from("# caf\xe9\n", "latin1"), Buffer.from(decision)]),
  );
  const run = await cli(dir.path, ["status"]);
  assert.match(run.stdout, /^Telemetry: disabled\nDecided by: the consent file /);
  assert.match(
    run.stdout,
    /\nProblem: the consent file .*telemetry\.toml is not valid UTF-8 \(Python's tomllib rejects it\), so it is read as disabled\n/,
  );
  const json = JSON.parse((await cli(dir.path, ["status", "--json"])).stdout);
  assert.deepEqual([json.enabled, json.fileState, json.fileProblem], [
    false,
    "disabled",
    "is not valid UTF-8 (Python's tomllib rejects it)",
  ]);
});

test("enable and disable record the decision in the shared file; status reads it back", async () => {
  using dir = tempDir();
  const enabled = await cli(dir.path, ["enable"]);
  assert.deepEqual([enabled.code, enabled.stdout], [0, `Telemetry enabled: saved to ${dir.path}/telemetry.toml.\n`]);
  assert.match(readFileSync(`${dir.path}/telemetry.toml`, "utf8"), /consent = "enabled"/);
  assert.match((await cli(dir.path, ["status"])).stdout, /Telemetry: enabled\nDecided by: the consent file /);
  assert.equal((await cli(dir.path, ["disable"])).code, 0);
  assert.match((await cli(dir.path, ["status"])).stdout, /Telemetry: disabled/);
});

test("an environment variable that overrides the file gets a note", async () => {
  using dir = tempDir();
  await cli(dir.path, ["enable"]);
  const run = await cli(dir.path, ["status"], { NAT_TELEMETRY_ENABLED: "0" });
  assert.match(
    run.stdout,
    /^Telemetry: disabled\nDecided by: the NAT_TELEMETRY_ENABLED environment variable\n/,
  );
  assert.match(run.stdout, /\nNote: NAT_TELEMETRY_ENABLED overrides the consent file, which says: enabled\.\n/);
  const dnt = JSON.parse((await cli(dir.path, ["status", "--json"], { DO_NOT_TRACK: "1" })).stdout);
  assert.deepEqual([dnt.enabled, dnt.source, dnt.overriddenByEnvironment], [false, "DO_NOT_TRACK", true]);
});

test("a decision that cannot be saved exits 1 with a clear message, the previous one unchanged", async () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/file`, "");
  const run = await cli(dir.path, ["enable"], { NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/file/telemetry.toml` });
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /could not save the decision to .*file\/telemetry\.toml \(refused .*file: not_a_directory\); the decision it holds \(none\) is unchanged/,
  );
  assert.equal(run.stdout, "");
});

test("a consent file where no directory can be made (/proc) fails at once, never loops", {
  skip: process.platform !== "linux" && "needs /proc",
}, async () => {
  using dir = tempDir();
  const run = await cli(dir.path, ["enable"], {
    NAT_TELEMETRY_CONSENT_FILE: "/proc/nat-telemetry-test/telemetry.toml",
  });
  assert.deepEqual([run.code, run.signal], [1, null], "it ended by itself (the child is killed at 30 s)");
  assert.match(run.stderr, /could not save the decision/);
});

test("a consent file directly under / is written there or not at all, never in the working directory", async () => {
  using dir = tempDir();
  const name = `nat-telemetry-test-${process.pid}.toml`;
  const run = await runChild("../../src/cli.ts", {
    args: ["disable"],
    env: { NAT_TELEMETRY_CONSENT_FILE: `/${name}`, NAT_TELEMETRY_SPOOL_DIR: `${dir.path}/spool` },
    cwd: dir.path,
  });
  try {
    assert.equal(existsSync(`${dir.path}/${name}`), false, "nothing in the working directory");
    assert.equal(run.code === 0, existsSync(`/${name}`), "success means it is at the path given");
  } finally {
    rmSync(`/${name}`, { force: true });
  }
});

test("--help on every command; unknown commands and options are usage errors (exit 2)", async () => {
  using dir = tempDir();
  for (const command of ["", "status", "enable", "disable", "flush", "inspect", "collector"]) {
    const run = await cli(dir.path, command ? [command, "--help"] : ["--help"]);
    assert.equal(run.code, 0, command);
    assert.match(run.stdout, new RegExp(`^Usage: nat-telemetry${command ? ` ${command}` : ""}`), command);
  }
  const unknown = await cli(dir.path, ["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  const badOption = await cli(dir.path, ["status", "--nope"]);
  assert.equal(badOption.code, 2);
  // parseArgs's advice on '--' (for positionals starting with '-', which these commands take none of) is left out.
  assert.match(badOption.stderr, /^nat-telemetry: Unknown option '--nope'\n\nUsage: nat-telemetry/);
});

test("inspect and flush say why there is no spool", async () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/spool`, ""); // a file where the spool directory should be
  const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: "http://127.0.0.1:9/events" };
  const inspected = await cli(dir.path, ["inspect"], env);
  assert.match(inspected.stdout, /^Spool: none \(refused .*spool: not_a_directory\)$/m);
  const flushed = await cli(dir.path, ["flush"], env);
  assert.equal(flushed.code, 1);
  assert.match(flushed.stderr, /there is no spool \(refused .*spool: not_a_directory\)/);
});

/** Leaves one event in the spool: a run that exits explicitly. */
async function seedSpool(dir: string, endpoint: string) {
  const run = await runChild("exit_child.ts", {
    args: ["exit"],
    env: {
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_ENDPOINT: endpoint,
      NAT_TELEMETRY_SPOOL_DIR: `${dir}/spool`,
      NAT_TEST_COMMAND: "seeded",
    },
  });
  assert.equal(run.code, 3);
}

test("inspect only looks: it makes no spool directory, and a read-only grant lets it see the spool", async () => {
  using dir = tempDir();
  const endpoint = "http://127.0.0.1:9/events";
  const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: endpoint };
  const none = await cli(dir.path, ["inspect"], env);
  assert.match(none.stdout, /^Spool: none \(.*\/spool does not exist yet\)$/m);
  assert.equal(existsSync(`${dir.path}/spool`), false, "not made");
  await seedSpool(dir.path, endpoint);
  // A health file a run would take for invalid (a wait a day long) and remove: inspect leaves it, and all else.
  const invalid = { failures: 1, notBefore: Date.now() + 86_400_000, endpoint };
  writeFileSync(`${dir.path}/spool/health-${shortHash(endpoint)}.json`, JSON.stringify(invalid), { mode: 0o600 });
  const before = files(`${dir.path}/spool`);
  assert.match((await cli(dir.path, ["inspect"], env)).stdout, /1 spooled event/);
  assert.deepEqual(files(`${dir.path}/spool`), before, "nothing made, changed or removed");
  const runtime = runtimeInfo().name;
  const readOnly: ChildOptions | undefined = runtime === "deno"
    ? { denoFlags: ["--allow-read", "--allow-env"] }
    : runtime === "node"
    ? { env: { NODE_OPTIONS: "--permission --allow-fs-read=*" } }
    : undefined; // Bun has no permissions
  if (readOnly) {
    const seen = await cli(dir.path, ["inspect", "--json"], { ...env, ...readOnly.env }, readOnly);
    const { spoolDir, events } = JSON.parse(seen.stdout);
    assert.deepEqual([spoolDir, events.map((e: { parameters: { command: string } }) => e.parameters.command)], [
      `${dir.path}/spool`,
      ["seeded"],
    ]);
  }
  // Where there is no spool, inspect and status say why.
  for (const command of ["inspect", "status"]) {
    const empty = await cli(dir.path, [command], { ...env, NAT_TELEMETRY_SPOOL_DIR: "" });
    assert.match(empty.stdout, /^Spool: none \(NAT_TELEMETRY_SPOOL_DIR is empty\)$/m, command);
    if (runtime !== "deno") continue;
    // Nor may it know the user's id (--allow-sys), which the temporary directory's place is named by.
    const blind = await cli(dir.path, [command], env, { denoFlags: ["--allow-read"] });
    assert.match(
      blind.stdout,
      /^Spool: none \(the program may not read HOME \(its permissions\); nor in the temporary directory, .* id, .*\)$/m,
      command,
    );
  }
  // A spool a run cannot use is none, and why; a relative home is named as the reason the fallback is used.
  writeFileSync(`${dir.path}/file`, "");
  const refused = await cli(dir.path, ["status", "--json"], { ...env, NAT_TELEMETRY_SPOOL_DIR: `${dir.path}/file` });
  const { spoolDir, noSpool } = JSON.parse(refused.stdout);
  assert.deepEqual([spoolDir, /not_a_directory/.test(noSpool)], [null, true], noSpool);
  const relative = await cli(dir.path, ["status"], {
    ...env,
    NAT_TELEMETRY_SPOOL_DIR: undefined,
    HOME: "rel",
    XDG_STATE_HOME: undefined,
    TMPDIR: dir.path,
  }, { cwd: dir.path }); // where a runtime's own cache (Deno's, in $HOME/.cache) lands
  assert.match(relative.stdout, /^Problem: the spool directory cannot be used: the home directory is not an absolute/m);
});

test("Deno that may not connect nor keep a spool: status says the permission is why nothing is delivered", {
  skip: runtimeInfo().name !== "deno" && "Deno's permissions",
}, async () => {
  using dir = tempDir();
  const run = await cli(dir.path, ["status"], { NAT_TELEMETRY_ENABLED: "1" }, {
    denoFlags: ["--allow-read", "--allow-env"],
  });
  assert.match(
    run.stdout,
    /^At exit: nothing is delivered \(the program may not connect to the endpoint \(its permissions\), and /m,
  );
});

test("inspect counts what it cannot read (a malformed line, a file not the user's own); status names a relative consent file", async () => {
  using dir = tempDir();
  const endpoint = "http://127.0.0.1:9/events";
  const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: endpoint };
  await seedSpool(dir.path, endpoint);
  const [seeded] = files(`${dir.path}/spool`).filter((name) => name.startsWith("e-"));
  writeFileSync(`${dir.path}/spool/${seeded}`, "not an event\n", { flag: "a" });
  const text = await cli(dir.path, ["inspect"], env);
  assert.match(text.stdout, /^1 spooled event\(s\)\n1 more that cannot be read .*: a run drops them$/m);
  assert.equal(JSON.parse((await cli(dir.path, ["inspect", "--json"], env)).stdout).corrupt, 1);
  const status = await cli(dir.path, ["status"], { NAT_TELEMETRY_CONSENT_FILE: "telemetry.toml" }, { cwd: dir.path });
  assert.match(status.stdout, /^Problem: NAT_TELEMETRY_CONSENT_FILE="telemetry\.toml" is not an absolute path: /m);
});

test("inspect lists spooled events and the endpoint's health; flush delivers them now", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 503 }));
  try {
    await seedSpool(dir.path, server.url());
    const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: server.url() };
    const failed = await cli(dir.path, ["flush"], env);
    assert.equal(failed.code, 1, "events are left in the spool");
    assert.match(failed.stdout, /Delivered 0 event\(s\); dropped 0; 1 left in the spool/);
    const inspected = JSON.parse((await cli(dir.path, ["inspect", "--json"], env)).stdout);
    assert.deepEqual(inspected.events.map((e: { parameters: { command: string } }) => e.parameters.command), [
      "seeded",
    ]);
    assert.equal(inspected.events[0].retries, 1);
    assert.equal(inspected.health.failures, 1, "the endpoint is marked down");
    assert.match(
      (await cli(dir.path, ["inspect"], env)).stdout,
      /1 spooled event\(s\)\n.*seeded success exit=0 {2}retries=1/,
    );
    server.respond(() => ({ status: 200 }));
    const delivered = await cli(dir.path, ["flush"], env);
    assert.deepEqual([delivered.code, delivered.stdout], [
      0,
      "Delivered 1 event(s); dropped 0; 0 left in the spool.\n",
    ]);
    assert.deepEqual(commands(JSON.parse(server.requests.at(-1)!.body).events), ["seeded"], "the accepted request");
    assert.deepEqual(files(`${dir.path}/spool`), []);
  } finally {
    await server.close();
  }
});

test("inspect shows the health a program with a fetch of its own keeps to itself; flush forgets it", async () => {
  // An endpoint whose URL the health file may hold, and one with a key in its query, which it never holds.
  const endpoints: [string, string][] = [
    ["http://127.0.0.1:9/events", "http://127.0.0.1:9/events"],
    ["http://127.0.0.1:9/e?key=abc", "http://127.0.0.1:9/e?key=***"],
  ];
  for (const [endpoint, shown] of endpoints) {
    using dir = tempDir();
    setTelemetryEnabled(true);
    try {
      const fetch = () => Promise.reject(new TypeError("no signing key"));
      const own = new NATTelemetryHandler({ endpoint, spoolDir: `${dir.path}/spool`, fetch, exitTimeoutSeconds: 1 });
      own.enqueue(commandEvent("own"));
      await own.stop();
    } finally {
      setTelemetryEnabled(false);
    }
    const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: endpoint };
    const inspected = JSON.parse((await cli(dir.path, ["inspect", "--json"], env)).stdout);
    assert.equal(inspected.health.failures, 0, "the endpoint is not down for the programs without one");
    const reported = inspected.endpoints.filter((entry: { health: unknown }) => entry.health !== null);
    assert.equal(reported.length, 1, JSON.stringify(inspected.endpoints));
    assert.deepEqual([reported[0].endpoint, reported[0].events, reported[0].health.failures], [shown, 1, 1]);
    assert.match((await cli(dir.path, ["inspect"], env)).stdout, /\(key [0-9a-f]{8}: another program or version\)/);
    const healthFiles = () => files(`${dir.path}/spool`).filter((name) => name.startsWith("health-"));
    assert.equal(healthFiles().length, 1);
    const flushed = await cli(dir.path, ["flush"], env);
    // Not "0 left" alone, which would read as nothing waiting: that program's event waits for it.
    assert.match(
      flushed.stdout,
      /; 0 left in the spool; 1 more for other endpoints or programs, which their runs deliver \(see inspect\)\.$/m,
    );
    assert.deepEqual(healthFiles(), [], `${endpoint}: the user asked to try now`);
  }
});

test("inspect: a program with headers shares its URL's health, which no file ties to its key: unknown, not healthy", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 503 }));
  try {
    setTelemetryEnabled(true);
    try {
      const headers = { authorization: "Bearer token" }; // its events' key covers them: no file names it
      const own = new NATTelemetryHandler({ endpoint: server.url(), spoolDir: `${dir.path}/spool`, headers });
      own.enqueue(commandEvent("with headers"));
      await own.stop();
    } finally {
      setTelemetryEnabled(false);
    }
    const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: server.url() };
    const inspected = JSON.parse((await cli(dir.path, ["inspect", "--json"], env)).stdout);
    const shown = inspected.endpoints.map((
      e: { endpoint: string | null; events: number; health: unknown },
    ) => [e.endpoint, e.events, e.health === null || e.health === "unknown" ? e.health : "down"]);
    assert.deepEqual(shown.sort(), [[server.url(), 0, "down"], [null, 1, "unknown"]].sort());
  } finally {
    await server.close();
  }
});

test("status and inspect tell what runs and senders dropped (they have no output of their own), for the endpoint in force", async () => {
  using dir = tempDir();
  const endpoint = "http://127.0.0.1:9/refusing";
  mkdirSync(`${dir.path}/spool`, { mode: 0o700 });
  const at = Date.now() - 60_000;
  const spool = `${dir.path}/spool`;
  const dropped = { http_400: 2, retries_exhausted: 1 };
  recordDrops(host().files!, spool, spoolKey(endpoint), endpoint, dropped, at);
  // The same endpoint, as a program that sets headers of its own sends to it (a spool key of its own).
  const withHeaders = spoolKey(endpoint, "nat", '{"headers":[["x-tool","a"]]}');
  recordDrops(host().files!, spool, withHeaders, endpoint, { http_400: 1 }, at + 1_000);
  const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: endpoint };
  const since = formatTimestamp(at);
  assert.match(
    (await cli(dir.path, ["status"], env)).stdout,
    new RegExp(
      `\nProblem: runs and senders dropped 4 event\\(s\\) since ${since} \\(http_400: 3, retries_exhausted: 1\\)`,
    ),
  );
  const inspected = JSON.parse((await cli(dir.path, ["inspect", "--json"], env)).stdout);
  const later = formatTimestamp(at + 1_000);
  assert.deepEqual(
    inspected.endpoints.map((e: { key: string; droppedBySenders: unknown }) => [e.key, e.droppedBySenders]),
    [
      [spoolKey(endpoint), { dropped: { http_400: 2, retries_exhausted: 1 }, since, last: since }],
      [withHeaders, { dropped: { http_400: 1 }, since: later, last: later }],
    ],
  );
  assert.match(
    (await cli(dir.path, ["inspect"], env)).stdout,
    /: 0 spooled event\(s\); no recorded failure; runs and senders dropped 3/,
  );
  const other = { ...env, NAT_TELEMETRY_ENDPOINT: "http://127.0.0.1:9/other" };
  assert.doesNotMatch(
    (await cli(dir.path, ["status"], other)).stdout,
    /runs and senders dropped/,
    "another endpoint's",
  );
  const eightDaysAgo = Date.now() - 8 * 86_400_000;
  // An endpoint whose URL holds a query is not written in the record (its hash is): status still sums its keys.
  const query = { ...env, NAT_TELEMETRY_ENDPOINT: "http://127.0.0.1:9/v1?tenant=acme" };
  const queryKey = spoolKey(query.NAT_TELEMETRY_ENDPOINT, "nat", '{"headers":[["x-tool","a"]]}');
  recordDrops(host().files!, spool, queryKey, query.NAT_TELEMETRY_ENDPOINT, { http_400: 5 }, at);
  assert.match((await cli(dir.path, ["status"], query)).stdout, /runs and senders dropped 5 event\(s\)/);
  const named = JSON.parse((await cli(dir.path, ["inspect", "--json"], query)).stdout).endpoints
    .find((e: { key: string }) => e.key === queryKey);
  assert.equal(
    named.endpoint,
    "http://127.0.0.1:9/v1?tenant=***",
    "named by its hash as the endpoint in force, masked",
  );
  const otherUrl = other.NAT_TELEMETRY_ENDPOINT;
  recordDrops(host().files!, spool, spoolKey(otherUrl), otherUrl, { http_400: 1 }, eightDaysAgo);
  assert.doesNotMatch(
    (await cli(dir.path, ["status"], other)).stdout,
    /runs and senders dropped/,
    "older than events are kept",
  );
});

test("inspect shows the health of every endpoint that has spooled events, named by its URL", async () => {
  using dir = tempDir();
  const first = await TestServer.start(() => ({ status: 503 }));
  const second = await TestServer.start(() => ({ status: 503 }));
  try {
    for (const server of [first, second]) {
      await seedSpool(dir.path, server.url());
      // A flush that fails records the endpoint as down, in a health file named by a hash of its URL.
      const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: server.url() };
      assert.equal((await cli(dir.path, ["flush"], env)).code, 1);
    }
    // The endpoint in force is a third one, with nothing spooled: the other two are still shown.
    const env = { NAT_TELEMETRY_ENDPOINT: "http://127.0.0.1:9/third" };
    const inspected = JSON.parse((await cli(dir.path, ["inspect", "--json"], env)).stdout);
    const shown = inspected.endpoints.map((
      e: { endpoint: string; format: string; events: number; health: { failures: number } },
    ) => [e.endpoint, e.format, e.events, e.health.failures]);
    assert.deepEqual(shown.sort(), [[first.url(), "nat", 1, 1], [second.url(), "nat", 1, 1]].sort());
    const text = (await cli(dir.path, ["inspect"], env)).stdout;
    for (const server of [first, second]) {
      assert.match(
        text,
        new RegExp(`\\n  ${server.url()} \\(nat\\): 1 spooled event\\(s\\); down after 1 failure\\(s\\)`),
      );
    }
    // Health files of an older version name no URL: events whose endpoint no file names say so.
    for (const name of files(`${dir.path}/spool`).filter((name) => name.startsWith("health-"))) {
      const { failures, notBefore } = JSON.parse(readFileSync(`${dir.path}/spool/${name}`, "utf8"));
      writeFileSync(`${dir.path}/spool/${name}`, JSON.stringify({ failures, notBefore }));
    }
    const old = JSON.parse((await cli(dir.path, ["inspect", "--json"], env)).stdout);
    assert.deepEqual(
      old.endpoints.map((e: { endpoint: null; events: number; health: string }) => [e.endpoint, e.events, e.health]),
      [
        [null, 1, "unknown"],
        [null, 1, "unknown"],
      ],
    );
    const own = JSON.parse(
      (await cli(dir.path, ["inspect", "--json"], { NAT_TELEMETRY_ENDPOINT: first.url() })).stdout,
    );
    const firstReport = own.endpoints.find((e: { endpoint: string }) => e.endpoint === first.url());
    assert.equal(firstReport.health.failures, 1, "the endpoint in force is known by its URL's hash");
  } finally {
    await first.close();
    await second.close();
  }
});

test("inspect names the endpoint in force, and its health, in the OTLP format too (its key names the resource)", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 503 }));
  try {
    const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: server.url(), NAT_TELEMETRY_FORMAT: "otlp" };
    const seeded = await runChild("exit_child.ts", {
      args: ["exit"],
      env: { ...env, NAT_TELEMETRY_SPOOL_DIR: `${dir.path}/spool`, NAT_TEST_COMMAND: "seeded" },
    });
    assert.equal(seeded.code, 3);
    assert.equal((await cli(dir.path, ["flush"], env)).code, 1);
    const inspected = JSON.parse((await cli(dir.path, ["inspect", "--json"], env)).stdout);
    const shown = inspected.endpoints.map((
      e: { endpoint: string; format: string; events: number; health: { failures: number } },
    ) => [e.endpoint, e.format, e.events, e.health.failures]);
    assert.deepEqual(shown, [[server.url(), "otlp", 1, 1]]);
  } finally {
    await server.close();
  }
});

test("flush does not count events another run has claimed as left over: two flushes at once both succeed", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    await seedSpool(dir.path, server.url());
    const [name] = files(`${dir.path}/spool`).filter((file) => file.startsWith("e-"));
    const until = Date.now() + 60_000;
    renameSync(`${dir.path}/spool/${name}`, `${dir.path}/spool/l-${until}-${name}`); // another run's
    const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: server.url() };
    const run = await cli(dir.path, ["flush"], env);
    const held = "Delivered 0 event(s); dropped 0; 0 left in the spool (1 held by another run, which delivers them" +
      `, or another run may take them over after ${formatTimestamp(until)}).\n`;
    assert.deepEqual([run.code, run.stdout], [0, held]);
    // Two claims, one held for hours (a run with a long exit budget): both times are named.
    await seedSpool(dir.path, server.url());
    const [second] = files(`${dir.path}/spool`).filter((file) => file.startsWith("e-"));
    const later = Date.now() + 3 * 3_600_000;
    renameSync(`${dir.path}/spool/${second}`, `${dir.path}/spool/l-${later}-${second}`);
    const both = await cli(dir.path, ["flush"], env);
    assert.match(
      both.stdout,
      new RegExp(`2 held .* between ${formatTimestamp(until)} and ${formatTimestamp(later)}\\)`),
    );
  } finally {
    await server.close();
  }
});

test("disable deletes spooled events and the senders' scripts; a disabled flush sends nothing", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const down = await TestServer.start();
    await down.close();
    await seedSpool(dir.path, down.url());
    const scripts = () => readdirSync(`${dir.path}/spool`).filter((name) => /^sender-.*\.mjs$/.test(name));
    writeFileSync(`${dir.path}/spool/sender-00000000.mjs`, "// another version's sender\n", { mode: 0o600 });
    // One run's events held by a sender (its file claimed), one's left by a run that died (its lease over), another's
    // waiting: a request under way may still deliver the first, and disable says so.
    const [held] = readdirSync(`${dir.path}/spool`).filter((name) => name.startsWith("e-"));
    renameSync(`${dir.path}/spool/${held}`, `${dir.path}/spool/l-${Date.now() + 60_000}-${held}`);
    await seedSpool(dir.path, down.url());
    const [left] = readdirSync(`${dir.path}/spool`).filter((name) => name.startsWith("e-"));
    renameSync(`${dir.path}/spool/${left}`, `${dir.path}/spool/l-${Date.now() - 60_000}-${left}`);
    await seedSpool(dir.path, down.url());
    const run = await cli(dir.path, ["disable"]);
    assert.match(
      run.stdout,
      /Deleted 3 spooled event\(s\): none of them is sent from now on, but for 1 a run or sender held, which a/,
    );
    assert.deepEqual(readdirSync(`${dir.path}/spool`).filter((name) => /^[el]-/.test(name)), []);
    assert.deepEqual(scripts(), [], "a hand-off writes its own again when needed");
    await seedSpool(dir.path, down.url());
    const flush = await cli(dir.path, ["flush"], { NAT_TELEMETRY_ENDPOINT: server.url() });
    assert.equal(flush.code, 1);
    assert.match(flush.stderr, /telemetry is disabled; nothing was sent/);
    assert.equal(server.requests.length, 0);
  } finally {
    await server.close();
  }
});

test("a CLI's telemetry command takes the handler options its runs use: status shows them, disable clears that spool", async () => {
  using dir = tempDir();
  const down = await TestServer.start();
  await down.close();
  const own = `${dir.path}/own-spool`; // the program's own, not the one the environment names
  const options = { spoolDir: own, endpoint: down.url() };
  await runChild("exit_child.ts", {
    args: ["exit"],
    env: { NAT_TELEMETRY_ENABLED: "1", NAT_TEST_OPTIONS: JSON.stringify(options), NAT_TEST_COMMAND: "before" },
  });
  assert.equal(spooled(own).length, 1, "a run spooled its event in the program's own spool");
  const command = (args: string[], env: ChildOptions["env"] = {}) =>
    runChild("telemetry_command_child.ts", {
      args,
      env: {
        ...UNSET_PROXY_VARIABLES,
        NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/telemetry.toml`,
        NAT_TELEMETRY_SPOOL_DIR: `${dir.path}/spool`,
        NAT_TEST_OPTIONS: JSON.stringify(options),
        ...env,
      },
    });
  const status = await command(["status", "--json"], { NAT_TELEMETRY_ENABLED: "1" });
  const shown = JSON.parse(status.stdout);
  assert.equal(shown.spoolDir, own);
  assert.deepEqual([shown.endpoint, shown.endpointSource], [down.url(), "the program's options"]);
  const disable = await command(["disable"]);
  assert.equal(disable.code, 0, disable.stderr);
  assert.match(disable.stdout, /Deleted 1 spooled event\(s\): none of them is sent from now on/);
  assert.deepEqual(spooled(own), [], "nothing left that a later opt-in would send");
  // Values the program may have taken from its user's environment (a variable of its own, unset or mistyped) are
  // told, as the handler's runs take them: no spool, nothing sent.
  const wrong = await command(["status"], { NAT_TEST_OPTIONS: '{"spoolDir":"relative","endpoint":"localhost:4318"}' });
  assert.deepEqual([wrong.code, wrong.stderr], [0, ""]);
  assert.match(wrong.stdout, /^Endpoint: none \(nothing is sent: the program's 'endpoint' is not an http\(s\) URL\)$/m);
  assert.match(wrong.stdout, /^Spool: none \(the program's 'spoolDir' is not an absolute path\)$/m);
  assert.match(
    wrong.stdout,
    /^Problem: the program's 'spoolDir' "relative" is not an absolute path: no spool is kept$/m,
  );
  assert.match(wrong.stdout, /^Problem: the program's 'endpoint' "localhost:4318" is not an http\(s\) URL, "" or/m);
  // What a CLI's own test can expect to be empty: the problems of its options alone, not the machine's.
  const wrongJson = await command(["status", "--json"], {
    NAT_TEST_OPTIONS: '{"spoolDir":"relative"}',
    NAT_TELEMETRY_FORMAT: "xml",
  });
  const { problems, optionProblems } = JSON.parse(wrongJson.stdout);
  assert.deepEqual(optionProblems, [`the program's 'spoolDir' "relative" is not an absolute path: no spool is kept`]);
  assert.equal(problems.length, 2, "the machine's problem with them");
  // Nor do they stop an opt-out, which empties the spool the runs use.
  spoolEvent(own, down.url(), "waiting", "s", 1);
  await command(["enable"]);
  const optOut = await command(["disable"], {
    NAT_TEST_OPTIONS: JSON.stringify({ ...options, endpoint: "localhost:4318" }),
  });
  assert.deepEqual([optOut.code, optOut.stderr], [0, ""]);
  assert.match(optOut.stdout, /Telemetry disabled: saved to /, "the decision itself is saved");
  assert.deepEqual(spooled(own), [], "nothing left that a later opt-in would send");
  assert.match(readFileSync(`${dir.path}/telemetry.toml`, "utf8"), /consent = "disabled"/);
});

test("a spool's place runs cannot use: status names the one they keep instead, inspect shows it, disable empties it", {
  skip: process.platform === "win32" && "POSIX user ids",
}, async () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/home`, ""); // a file where the state directory would be made: root cannot make it either
  const fallback = `${dir.path}/nat-telemetry-${process.getuid!()}`;
  const down = await TestServer.start();
  await down.close();
  const env = {
    NAT_TELEMETRY_SPOOL_DIR: undefined,
    XDG_STATE_HOME: `${dir.path}/home/state`,
    TMPDIR: dir.path,
    NAT_TELEMETRY_ENDPOINT: down.url(),
  };
  const seeded = await runChild("exit_child.ts", {
    args: ["exit"],
    env: { NAT_TELEMETRY_ENABLED: "1", NAT_TEST_COMMAND: "seeded", ...env },
  });
  assert.equal(seeded.code, 3, seeded.stderr);
  assert.equal(spooled(fallback).length, 1, "the run kept its event in the fallback");
  const status = await cli(dir.path, ["status"], { NAT_TELEMETRY_ENABLED: "1", ...env });
  assert.ok(status.stdout.includes(`\nSpool: ${fallback}\n`), status.stdout);
  assert.match(status.stdout, /^Problem: the spool directory cannot be used: .*home\/state.*: runs keep it in \S+$/m);
  const inspected = await cli(dir.path, ["inspect", "--json"], env);
  const { spoolDir, events, placeRefused } = JSON.parse(inspected.stdout);
  assert.deepEqual([spoolDir, events.length], [fallback, 1]);
  assert.match(placeRefused, /home\/state/, "why its place is not used");
  // What runs left in the place before it could not be used is not counted: said, lest the counts read as all.
  const note = /^Note: runs keep the spool here, as its place cannot be used \(.*home\/state.*\); what runs left /m;
  assert.match((await cli(dir.path, ["inspect"], env)).stdout, note);
  assert.match((await cli(dir.path, ["flush"], { NAT_TELEMETRY_ENABLED: "1", ...env })).stdout, note);
  const disable = await cli(dir.path, ["disable"], env);
  assert.deepEqual([disable.code, disable.stderr], [0, ""]);
  assert.match(disable.stdout, /^Deleted 1 spooled event\(s\)/m);
  assert.deepEqual(spooled(fallback), []);
});

test(
  "flush, once the spool's place can be used again, delivers what the fallback holds for its endpoint at once, even what was just spooled there",
  {
    skip: process.platform === "win32" && "POSIX user ids",
  },
  async () => {
    using dir = tempDir();
    const fallback = `${dir.path}/nat-telemetry-${process.getuid!()}`;
    mkdirSync(fallback, { mode: 0o700 });
    const server = await TestServer.start();
    try {
      // Spooled there a second ago by a run that could not use the place, which a run has made since; runs move it
      // there only after a minute.
      spoolEvent(fallback, server.url(), "waiting", "s", 1);
      mkdirSync(`${dir.path}/state/nat/telemetry`, { recursive: true, mode: 0o700 });
      const env = {
        NAT_TELEMETRY_ENABLED: "1",
        NAT_TELEMETRY_SPOOL_DIR: undefined,
        XDG_STATE_HOME: `${dir.path}/state`,
        TMPDIR: dir.path,
        NAT_TELEMETRY_ENDPOINT: server.url(),
      };
      // Counted where the spool is looked at, lest "0 spooled" read as none.
      assert.match(
        (await cli(dir.path, ["inspect"], env)).stdout,
        /^Note: 1 more event\(s\) wait in .*nat-telemetry-/m,
      );
      const before = JSON.parse((await cli(dir.path, ["inspect", "--json"], env)).stdout);
      assert.deepEqual([before.events.length, before.fallback?.events], [0, 1]);
      const flushed = await cli(dir.path, ["flush"], env);
      assert.equal(flushed.code, 0, flushed.stdout + flushed.stderr);
      assert.match(flushed.stdout, /^Delivered 1 event\(s\); dropped 0; 0 left in the spool\.$/m);
      assert.deepEqual(commands(server.events()), ["waiting"]);
      assert.deepEqual(spooled(fallback), [], "nothing left behind");
      assert.equal(JSON.parse((await cli(dir.path, ["inspect", "--json"], env)).stdout).fallback, null);
    } finally {
      await server.close();
    }
  },
);

test(
  "inspect where the spool's place is not there yet, beside an old fallback: no note, as a run would make the place",
  {
    skip: process.platform === "win32" && "POSIX user ids",
  },
  async () => {
    using dir = tempDir();
    const fallback = `${dir.path}/nat-telemetry-${process.getuid!()}`;
    mkdirSync(fallback, { mode: 0o700 }); // left by runs while the place could not be used
    mkdirSync(`${dir.path}/state`, { mode: 0o700 });
    const env = { NAT_TELEMETRY_SPOOL_DIR: undefined, XDG_STATE_HOME: `${dir.path}/state`, TMPDIR: dir.path };
    const inspected = await cli(dir.path, ["inspect"], env);
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.doesNotMatch(inspected.stdout, /^Note: runs keep the spool here/m);
    assert.equal(JSON.parse((await cli(dir.path, ["inspect", "--json"], env)).stdout).placeRefused, null);
  },
);

test("disable where no spool was ever made (a first run, its parent missing) makes none, and says nothing of it", async () => {
  using dir = tempDir();
  const spool = `${dir.path}/state/nat/telemetry`; // as ~/.local/state/nat/telemetry on a fresh machine
  const disable = await cli(dir.path, ["disable"], { NAT_TELEMETRY_SPOOL_DIR: spool });
  assert.deepEqual([disable.code, disable.stderr], [0, ""]);
  assert.equal(existsSync(`${dir.path}/state`), false, "nothing made");
});

test(
  "disable under Deno's narrowest permissions, on a fresh home: saved, exit 0, the directory it may not look in named",
  {
    skip: runtimeInfo().name !== "deno" && "Deno's permissions",
  },
  async () => {
    using dir = tempDir();
    mkdirSync(`${dir.path}/.config`);
    mkdirSync(`${dir.path}/.local/state`, { recursive: true });
    mkdirSync(`${dir.path}/tmp`);
    const nat = `${dir.path}/.config/nat,${dir.path}/.local/state/nat`; // as the README grants: not the temporary directory
    const disable = await cli(dir.path, ["disable"], {
      HOME: dir.path,
      TMPDIR: `${dir.path}/tmp`,
      NAT_TELEMETRY_CONSENT_FILE: undefined,
      NAT_TELEMETRY_SPOOL_DIR: undefined,
      XDG_CONFIG_HOME: undefined,
      XDG_STATE_HOME: undefined,
    }, { denoFlags: ["--allow-env", `--allow-read=${nat}`, `--allow-write=${nat}`, "--allow-sys=uid,gid"] });
    assert.deepEqual([disable.code, disable.stderr], [0, ""]);
    assert.match(disable.stdout, /^Telemetry disabled: saved to .*\/\.config\/nat\/telemetry\.toml\.$/m);
    assert.match(disable.stdout, /^Note: this program may not look in .*\/tmp\/nat-telemetry-\d+ \(its permissions\)/m);
    assert.deepEqual(readdirSync(`${dir.path}/tmp`), [], "nothing made there");
  },
);

test("disable says so, and exits 1, when it cannot delete the events waiting (a spool others may write)", {
  skip: process.platform === "win32" && "POSIX modes",
}, async () => {
  using dir = tempDir();
  const down = await TestServer.start();
  await down.close();
  await seedSpool(dir.path, down.url());
  chmodSync(`${dir.path}/spool`, 0o777); // as a careless chmod left it: no run uses it, nor may it clear it
  const status = await cli(dir.path, ["status"], { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: down.url() });
  assert.match(status.stdout, /^Problem: the spool directory cannot be used: refused .*spool: writable_by_others$/m);
  const disable = await cli(dir.path, ["disable"]);
  assert.equal(disable.code, 1);
  assert.match(disable.stdout, /Telemetry disabled: saved to /, "the decision itself is saved");
  assert.match(
    disable.stderr,
    /could not delete the events waiting in .*\/spool \(refused .*: writable_by_others\); delete its e-\*\.jsonl files/,
  );
  assert.equal(spooled(`${dir.path}/spool`).length, 1, "still there: the user was told");
});

test("disable that cannot save the decision still deletes the events waiting, and exits 1", async () => {
  using dir = tempDir();
  const down = await TestServer.start();
  await down.close();
  await seedSpool(dir.path, down.url());
  writeFileSync(`${dir.path}/file`, "");
  const consent = { NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/file/telemetry.toml` }; // under a file: never saved
  const disable = await cli(dir.path, ["disable"], consent);
  assert.equal(disable.code, 1);
  assert.match(disable.stderr, /could not save the decision to .*file\/telemetry\.toml/);
  assert.match(disable.stdout, /Deleted 1 spooled event\(s\): none of them is sent from now on/);
  assert.deepEqual(spooled(`${dir.path}/spool`), [], "the user asked that nothing more goes");
  const enable = await cli(dir.path, ["enable"], consent);
  assert.equal(enable.code, 1);
  assert.doesNotMatch(enable.stdout, /Deleted/);
});

test("collector: prints where it listens and one line per event it receives", async () => {
  using dir = tempDir();
  const collector = startChild("../../src/cli.ts", { args: ["collector", "--jsonl", `${dir.path}/events.jsonl`] });
  try {
    const url = await new Promise<string>((resolve) => {
      let text = "";
      collector.process.stdout?.on("data", (chunk) => {
        text += chunk;
        const match = /NAT_TELEMETRY_ENDPOINT=(\S+)/.exec(text);
        if (match) resolve(match[1]);
      });
    });
    const run = await runChild("exit_child.ts", {
      args: ["natural"],
      env: { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: url, NAT_TEST_COMMAND: "via-collector" },
    });
    assert.equal(run.code, 0);
    assert.match(readFileSync(`${dir.path}/events.jsonl`, "utf8"), /"command":"via-collector"/);
  } finally {
    collector.process.kill("SIGINT");
  }
  const result = await collector.result;
  assert.match(result.stdout, /nat_cli_command via-collector success exit=0/);
});

test("collector: a status no server may send is a usage error (2), a JSON Lines file it cannot write a failure (1)", async () => {
  using dir = tempDir();
  const status = await cli(dir.path, ["collector", "--status", "42"]);
  assert.deepEqual([status.code, status.stdout], [2, ""]);
  assert.match(
    status.stderr,
    /^nat-telemetry: Cannot start collector: 'status' must be a whole number from 200 to 599, got 42$/m,
  );
  const jsonl = await cli(dir.path, ["collector", "--jsonl", `${dir.path}/missing/events.jsonl`]);
  assert.deepEqual([jsonl.code, jsonl.stdout], [1, ""]);
  assert.match(jsonl.stderr, /^nat-telemetry: Cannot start collector: cannot write .*missing\/events\.jsonl/m);
});

test(
  "colour on a terminal, none with NO_COLOR, on a dumb terminal or through a pipe",
  { skip: !canRun("script", "--version") && "needs script(1)" },
  async () => {
    using dir = tempDir();
    const command = runtimeCommand(fixturePath("../../src/cli.ts")).map((part) => `'${part}'`).join(" ");
    const onTerminal = (noColor: string | undefined, term = "xterm") =>
      runChild("../../src/cli.ts", {
        executable: "script",
        args: ["-qec", command, "/dev/null"],
        env: { NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/t.toml`, NO_COLOR: noColor, TERM: term },
      });
    const escape = "\x1b[";
    assert.ok((await onTerminal(undefined)).stdout.includes(`${escape}31mdisabled${escape}0m`));
    assert.ok(!(await onTerminal("1")).stdout.includes(escape));
    assert.ok(!(await onTerminal(undefined, "dumb")).stdout.includes(escape), "TERM=dumb (an editor's shell)");
    assert.ok(!(await cli(dir.path, [])).stdout.includes(escape));
  },
);

test("status warns of credentials or headers an http: endpoint on another machine would carry unencrypted", async () => {
  using dir = tempDir();
  const run = await cli(dir.path, ["status"], {
    NAT_TELEMETRY_ENABLED: "1",
    NAT_TELEMETRY_ENDPOINT: "http://ada:secret@192.0.2.2/v1.1/events/json",
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^Problem: the URL's credentials go unencrypted \(http:\) to 192\.0\.2\.2$/m);
  assert.ok(!run.stdout.includes("secret"), "the password is never shown");
});

test("status says when the consent file's yes answered an earlier question, which is then asked again", async () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/telemetry.toml`, '[telemetry]\nconsent = "enabled"\nprompt_version = "0.9"\n');
  const run = await cli(dir.path, ["status"]);
  assert.match(
    run.stdout,
    /^Decided by: the default: the consent file's yes answered another question \(prompt_version 0\.9; this one is 1\.0\), so it is asked again$/m,
  );
});

test("status names a NAT_TELEMETRY_DEBUG that is no yes/no value, which writes no trail", async () => {
  using dir = tempDir();
  const run = await cli(dir.path, ["status"], { NAT_TELEMETRY_DEBUG: "2" });
  assert.match(
    run.stdout,
    /^Problem: NAT_TELEMETRY_DEBUG="2" is not a yes\/no value .*: read as no, so no debug trail is written$/m,
  );
});

test('flush where nothing is sent (a dry run, the endpoint "stdout") says so, exits 1, and leaves the spool', async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  await server.close();
  await seedSpool(dir.path, server.url());
  for (const env of [{ NAT_TELEMETRY_DRY_RUN: "1" }, { NAT_TELEMETRY_ENDPOINT: "stdout" }]) {
    const flushed = await cli(dir.path, ["flush"], { NAT_TELEMETRY_ENABLED: "1", ...env });
    assert.deepEqual([flushed.code, flushed.stdout], [1, ""], JSON.stringify(env));
    assert.match(flushed.stderr, /^nat-telemetry: .*: the spooled events are left as they are\.$/m);
  }
  assert.equal(spooled(`${dir.path}/spool`).length, 1);
});

test("flush delivers the whole spool, pass after pass, not only the 64 files one pass takes", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const spool = `${dir.path}/spool`;
    mkdirSync(spool, { mode: 0o700 });
    for (let i = 0; i < 100; i++) spoolEvent(spool, server.url(), `run-${i}`, `s${i}`, i);
    const run = await cli(dir.path, ["flush"], { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: server.url() });
    assert.deepEqual([run.code, run.stdout], [0, "Delivered 100 event(s); dropped 0; 0 left in the spool.\n"]);
    assert.equal(new Set(server.events().map((event) => event.parameters.command)).size, 100);
  } finally {
    await server.close();
  }
});
