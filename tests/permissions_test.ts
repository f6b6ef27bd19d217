/**
 * Deno asks the user for permissions interactively. The library must never
 * cause that: it queries first and degrades quietly (no env: defaults; no
 * write: no spool; no net: spool only). The child runs on a pseudo-terminal,
 * where a prompt would show and wait for an answer that never comes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import process from "node:process";
import { formatConsentToml } from "../src/consent.ts";
import { runtimeInfo } from "../src/runtime/mod.ts";
import { SENDER_SCRIPT_NAME } from "../src/sender_script_name.ts";
import { canRun, fixturePath, runChild } from "./helpers/child.ts";
import { commands } from "./helpers/events.ts";
import { sendersGone } from "./helpers/handoff.ts";
import { TestServer } from "./helpers/server.ts";
import { readsAreDated, senderLocks, spooled, tempDir } from "./helpers/spool_dir.ts";
import { waitFor } from "./helpers/wait.ts";

const skip = runtimeInfo().name !== "deno"
  ? "Deno permissions only"
  : !canRun("script", "--version")
  ? "needs script(1) for a pseudo-terminal"
  : false;

/** Runs the fixture under `deno run FLAGS` on a pseudo-terminal. */
async function onTerminal(flags: string[], env: Record<string, string> = {}, args: string[] = []) {
  const command = [process.execPath, "run", ...flags, fixturePath("permissions_child.ts"), ...args]
    .map((part) => `'${part}'`)
    .join(" ");
  const result = await runChild("permissions_child.ts", {
    executable: "script",
    args: ["-qec", command, "/dev/null"],
    env,
    limitMs: 20_000,
  });
  assert.equal(result.signal, null, "no prompt left it waiting");
  assert.doesNotMatch(result.stdout, /requests|Allow\?|\[y\/n/i, "no permission prompt");
  assert.equal(result.code, 0, result.stdout);
  assert.match(result.stdout, /done/);
  return result;
}

/** The debug fixture's own variables (`debug_child.ts`), which it reads whatever the test. */
const DEBUG_CHILD_VARIABLES = "NAT_TEST_NOISE_BYTES,NAT_TEST_SET_ENABLED,NAT_TEST_OPTIONS,NAT_TEST_THROWING_TIMERS";

test("Deno with no permission at all: no prompt, no error, nothing sent or written", { skip }, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    await onTerminal([], { NAT_TELEMETRY_ENDPOINT: server.url(), NAT_TELEMETRY_SPOOL_DIR: dir.path });
    assert.equal(server.requests.length, 0);
    assert.deepEqual(spooled(dir.path), []);
  } finally {
    await server.close();
  }
});

test("Deno that may read the debug variable alone: the trail names what it may not read, where it decides", {
  skip,
}, async () => {
  const run = await runChild("debug_child.ts", {
    denoFlags: [
      `--allow-env=NAT_TELEMETRY_DEBUG,${DEBUG_CHILD_VARIABLES}`,
    ],
    env: { NAT_TELEMETRY_DEBUG: "1", NAT_TELEMETRY_ENABLED: "1" },
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /telemetry off \(decided by NAT_TELEMETRY_ENABLED, which the program may not read/);
  const turnedOn = await runChild("debug_child.ts", {
    denoFlags: [
      `--allow-env=NAT_TELEMETRY_DEBUG,NAT_TELEMETRY_ENABLED,${DEBUG_CHILD_VARIABLES}`,
    ],
    env: {
      NAT_TELEMETRY_DEBUG: "1",
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TEST_OPTIONS: '{"endpoint":"http://127.0.0.1:9/e"}',
    },
  });
  assert.match(turnedOn.stderr, /nowhere \(dry_run: the program may not read NAT_TELEMETRY_DRY_RUN/);
});

test("Deno with env and net but no write: delivers, keeps no spool, no prompt", { skip }, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    await onTerminal(["--allow-env", `--allow-net=127.0.0.1`], {
      NAT_TELEMETRY_ENDPOINT: server.url(),
      NAT_TELEMETRY_SPOOL_DIR: dir.path,
    });
    assert.deepEqual(commands(server.events()), ["permissions"]);
  } finally {
    await server.close();
  }
});

test("Deno without net: spools only, for a later run, no prompt", { skip }, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    await onTerminal(["--allow-env", `--allow-read=${dir.path}`, `--allow-write=${dir.path}`], {
      NAT_TELEMETRY_ENDPOINT: server.url(),
      NAT_TELEMETRY_SPOOL_DIR: dir.path,
    });
    assert.equal(server.requests.length, 0);
    assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["permissions"]);
  } finally {
    await server.close();
  }
});

test(
  "Deno that may not read NAT_TELEMETRY_ENDPOINT or NAT_TELEMETRY_DRY_RUN sends nothing: they could say where, or not",
  {
    skip,
  },
  async () => {
    using dir = tempDir();
    const server = await TestServer.start();
    try {
      const env = { NAT_TELEMETRY_ENDPOINT: server.url(), NAT_TELEMETRY_SPOOL_DIR: dir.path, NAT_TELEMETRY_DEBUG: "1" };
      const read = "NAT_TELEMETRY_SPOOL_DIR,NAT_TELEMETRY_DEBUG,NAT_TELEMETRY_HANDOFF";
      const hidden = async (more: string) => {
        const flags = [
          `--allow-env=${read}${more}`,
          "--allow-net",
          `--allow-read=${dir.path}`,
          `--allow-write=${dir.path}`,
        ];
        return (await onTerminal(flags, env)).stdout;
      };
      // The user's endpoint, hidden: never the default in its place (a test one, or a company's own, stays theirs).
      const endpoint = await hidden(",NAT_TELEMETRY_DRY_RUN");
      assert.match(endpoint, /endpoint: nowhere \(endpoint_hidden\)/);
      assert.match(endpoint, /dropped 1 event\(s\): endpoint_hidden/);
      // A dry run, hidden: nothing sent, though the endpoint can be read.
      const dryRun = await hidden(",NAT_TELEMETRY_ENDPOINT");
      assert.match(dryRun, /dropped 1 event\(s\): dry_run/);
      assert.equal(server.requests.length, 0);
      assert.deepEqual(spooled(dir.path), []);
      // Both readable: delivered.
      await hidden(",NAT_TELEMETRY_ENDPOINT,NAT_TELEMETRY_DRY_RUN");
      await waitFor(() => server.events().length === 1, "the delivery");
      // With the OTLP format, the collector named by OTEL_EXPORTER_OTLP_ENDPOINT, hidden: never the OTLP default.
      const { NAT_TELEMETRY_ENDPOINT: _, ...rest } = env; // readable, and not set
      const otlp = { ...rest, NAT_TELEMETRY_FORMAT: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: server.url() };
      const flags = [
        `--allow-env=${read},NAT_TELEMETRY_DRY_RUN,NAT_TELEMETRY_FORMAT,NAT_TELEMETRY_ENDPOINT`,
        "--allow-net",
        `--allow-read=${dir.path}`,
        `--allow-write=${dir.path}`,
      ];
      assert.match((await onTerminal(flags, otlp)).stdout, /endpoint: nowhere \(endpoint_hidden\); format: otlp/);
    } finally {
      await server.close();
    }
  },
);

test("Deno: a 307 to a host:port the program may not reach is dropped, never a prompt", { skip }, async () => {
  const elsewhere = await TestServer.start();
  const server = await TestServer.start(() => ({ status: 307, headers: { location: elsewhere.url() } }));
  try {
    await onTerminal(["--allow-env", `--allow-net=127.0.0.1:${server.port}`], { NAT_TELEMETRY_ENDPOINT: server.url() });
    assert.equal(server.requests.length, 1);
    assert.equal(elsewhere.requests.length, 0, "the redirect was not followed");
  } finally {
    await server.close();
    await elsewhere.close();
  }
});

test("Deno: recordConsent with --allow-write for the file alone returns false, never a prompt", { skip }, async () => {
  using dir = tempDir();
  const file = `${dir.path}/nat/telemetry.toml`;
  const narrow = await onTerminal([`--allow-read=${file}`, `--allow-write=${file}`], {}, ["consent", file]);
  assert.match(narrow.stdout, /saved: false/);
  assert.equal(existsSync(file), false);
  const wide = await onTerminal([`--allow-read=${dir.path}`, `--allow-write=${dir.path}`], {}, ["consent", file]);
  assert.match(wide.stdout, /saved: true/);
  assert.match(readFileSync(file, "utf8"), /consent = "disabled"/);
});

test(
  "Deno without --allow-run: the exit hand-off falls back to delivering in process, no prompt",
  { skip },
  async () => {
    using dir = tempDir();
    const server = await TestServer.start();
    try {
      await onTerminal([
        "--allow-env",
        "--allow-net=127.0.0.1",
        `--allow-read=${dir.path}`,
        `--allow-write=${dir.path}`,
      ], {
        NAT_TELEMETRY_ENDPOINT: server.url(),
        NAT_TELEMETRY_SPOOL_DIR: dir.path,
        NAT_TELEMETRY_HANDOFF: "1",
      });
      assert.deepEqual(commands(server.events()), ["permissions"], "delivered before the run ended");
      assert.deepEqual(senderLocks(dir.path), [], "no sender");
    } finally {
      await server.close();
    }
  },
);

test("Deno that may read the consent file but not the directories above it: it is read once, then only looked at", {
  skip,
}, async () => {
  using dir = tempDir();
  const open = `${dir.path}/open`; // others may write it: a FIFO renamed in as it is opened would block Deno's open
  mkdirSync(open);
  chmodSync(open, 0o777);
  const file = `${open}/telemetry.toml`;
  writeFileSync(file, formatConsentToml("enabled", Date.now()), { mode: 0o600 });
  if (!readsAreDated(file)) return; // a `noatime` mount: nothing tells a read
  const result = await onTerminal(
    ["--allow-env", "--allow-sys=uid,gid", `--allow-read=${file}`, `--allow-write=${file}`],
    { NAT_TELEMETRY_CONSENT_FILE: file },
    ["consent-looks", file],
  );
  const { decided, readAgain } = JSON.parse(result.stdout.split("\n").find((line) => line.startsWith("{")) ?? "{}");
  assert.deepEqual(decided, [true, true, true, false], "the opt-out written since stops it");
  assert.equal(readAgain, false, "looked at before each request, not opened");
});

test("Deno that may read only the spool: who may swap it cannot be told, so no sender is run from it", {
  skip,
}, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    await onTerminal(
      ["--allow-env", "--allow-run", "--allow-net=127.0.0.1", `--allow-read=${dir.path}`, `--allow-write=${dir.path}`],
      {
        NAT_TELEMETRY_ENDPOINT: server.url(),
        NAT_TELEMETRY_SPOOL_DIR: dir.path,
        NAT_TELEMETRY_HANDOFF: "1",
        NAT_TELEMETRY_DEBUG: "1",
      },
    );
    assert.deepEqual(commands(server.events()), ["permissions"], "delivered before the run ended");
    assert.deepEqual(readdirSync(dir.path).filter((name) => name.startsWith("sender-")), [], "no sender, no script");
  } finally {
    await server.close();
  }
});

test("Deno that may not tell who owns the directories above the spool: no sender runs from it", {
  skip,
}, async () => {
  using dir = tempDir();
  mkdirSync(`${dir.path}/group`, { mode: 0o775 });
  chmodSync(`${dir.path}/group`, 0o775); // the user's own, in the user's own group, as `umask 002` leaves it
  const server = await TestServer.start();
  const scripts = (spoolDir: string) => readdirSync(spoolDir).filter((name) => name === SENDER_SCRIPT_NAME);
  try {
    const flags = ["--allow-env", "--allow-run", "--allow-net=127.0.0.1", "--allow-read", `--allow-write=${dir.path}`];
    const env = (spoolDir: string) => ({
      NAT_TELEMETRY_ENDPOINT: server.url(),
      NAT_TELEMETRY_SPOOL_DIR: spoolDir,
      NAT_TELEMETRY_HANDOFF: "1",
    });
    // Without the user's id, no owner can be compared: /tmp's sticky bit protects only from others.
    await onTerminal(flags, env(`${dir.path}/plain`));
    assert.deepEqual(commands(server.events()), ["permissions"], "delivered before the run ended");
    assert.deepEqual(scripts(`${dir.path}/plain`), [], "no sender, no script");
    // Without the user's group, a directory its group may write cannot be told the user's alone.
    await onTerminal([...flags, "--allow-sys=uid"], env(`${dir.path}/group/spool`));
    assert.equal(server.events().length, 2, "delivered before the run ended");
    assert.deepEqual(scripts(`${dir.path}/group/spool`), [], "no sender, no script");
    // With both, the run hands off.
    await onTerminal([...flags, "--allow-sys=uid,gid"], env(`${dir.path}/group/spool`));
    await waitFor(() => server.events().length === 3, "the sender's delivery");
    assert.equal(scripts(`${dir.path}/group/spool`).length, 1, "a sender ran from the spool");
    await sendersGone(`${dir.path}/group/spool`);
  } finally {
    await server.close();
  }
});

test("Deno short of -A in a container, under a wrapper: told by its engine's variable, delivered in process", {
  skip: skip || (runtimeInfo().os !== "linux" && "Linux's PID namespaces"),
}, async () => {
  // Deno reads nothing of /proc short of -A, so the PID namespace cannot be read; a wrapper (`sh -c`, `npm run`)
  // makes the program neither PID 1 nor PID 1's child. Podman, systemd-nspawn and LXC set `container`.
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const flags = ["--allow-env", "--allow-run", "--allow-net=127.0.0.1", "--allow-read", `--allow-write=${dir.path}`];
    const spoolDir = `${dir.path}/spool`;
    const env = { NAT_TELEMETRY_ENDPOINT: server.url(), NAT_TELEMETRY_SPOOL_DIR: spoolDir, NAT_TELEMETRY_HANDOFF: "1" };
    await onTerminal([...flags, "--allow-sys=uid,gid"], { ...env, container: "podman" });
    assert.deepEqual(commands(server.events()), ["permissions"], "delivered before the run ended");
    assert.deepEqual(readdirSync(spoolDir).filter((name) => name === SENDER_SCRIPT_NAME), [], "no sender, no script");
  } finally {
    await server.close();
  }
});

test("Deno with --allow-run: the run hands off to a sender with only the permissions it needs", { skip }, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    await onTerminal(["-A"], {
      NAT_TELEMETRY_ENDPOINT: server.url(),
      NAT_TELEMETRY_SPOOL_DIR: dir.path,
      NAT_TELEMETRY_HANDOFF: "1",
    });
    await waitFor(() => server.events().length === 1, "the sender's delivery");
    assert.deepEqual(commands(server.events()), ["permissions"]);
    await sendersGone(dir.path);
  } finally {
    await server.close();
  }
});

test("Deno with --allow-run but no net: no sender delivers for it either; the event waits in the spool", {
  skip,
}, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const run = await onTerminal(
      ["--allow-env", "--allow-run", `--allow-read=${dir.path}`, `--allow-write=${dir.path}`],
      {
        NAT_TELEMETRY_ENDPOINT: server.url(),
        NAT_TELEMETRY_SPOOL_DIR: dir.path,
        NAT_TELEMETRY_HANDOFF: "1",
        NAT_TELEMETRY_DEBUG: "1",
      },
    );
    // The debug trail says what happened: not a delivery in process.
    assert.match(run.stdout, /at exit: spooled for a later run: /);
    assert.doesNotMatch(run.stdout, /delivering in process/);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // a sender, had one started, would have sent
    assert.equal(server.requests.length, 0, "nothing sent by a sender with more permission than the program");
    assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["permissions"]);
    assert.deepEqual(senderLocks(dir.path), []);
  } finally {
    await server.close();
  }
});

test("Deno: a redirect the program may follow but its sender may not: the sender leaves the event for the program", {
  skip,
}, async () => {
  using dir = tempDir();
  const target = await TestServer.start();
  const endpoint = await TestServer.start(() => ({ status: 307, headers: { location: target.url() } }));
  try {
    // The program may reach every port of 127.0.0.1; its sender, only the endpoint's. It may read every
    // directory above the spool, and tell who owns them, as a hand-off needs.
    const flags = [
      "--allow-env",
      "--allow-run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      `--allow-write=${dir.path}`,
      "--allow-sys=uid,gid",
    ];
    const env = { NAT_TELEMETRY_ENDPOINT: endpoint.url(), NAT_TELEMETRY_SPOOL_DIR: dir.path };
    await onTerminal(flags, { ...env, NAT_TELEMETRY_HANDOFF: "1" });
    await waitFor(() => endpoint.requests.length === 1, "the sender's request");
    await sendersGone(dir.path);
    assert.equal(target.requests.length, 0, "the sender did not follow the redirect");
    assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["permissions"], "not dropped");
    // A run that delivers in process follows it, as the program may.
    await onTerminal(flags, { ...env, NAT_TELEMETRY_HANDOFF: "0" });
    assert.deepEqual(commands(target.events()), ["permissions", "permissions"]);
    assert.deepEqual(spooled(dir.path), []);
  } finally {
    await endpoint.close();
    await target.close();
  }
});

test(
  "Deno: a program with --deny-net gives its sender the endpoint's host only: a redirect never reaches a denied host",
  {
    skip,
  },
  async () => {
    using dir = tempDir();
    const denied = await TestServer.start();
    const endpoint = await TestServer.start(() => ({ status: 307, headers: { location: denied.url() } }));
    try {
      const flags = [
        "--allow-env",
        "--allow-run",
        "--allow-net",
        `--deny-net=127.0.0.1:${denied.port}`,
        "--allow-read",
        `--allow-write=${dir.path}`,
        "--allow-sys=uid,gid",
      ];
      const env = {
        NAT_TELEMETRY_ENDPOINT: endpoint.url(),
        NAT_TELEMETRY_SPOOL_DIR: dir.path,
        NAT_TELEMETRY_HANDOFF: "1",
      };
      await onTerminal(flags, env);
      await waitFor(() => endpoint.requests.length === 1, "the sender's request");
      await sendersGone(dir.path);
      assert.equal(denied.requests.length, 0, "the sender did not follow the redirect to the denied host");
      assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["permissions"], "left");
    } finally {
      await endpoint.close();
      await denied.close();
    }
  },
);

test("Deno: a relative consent file, run from a directory with a comma: no sender (its --allow-read would split)", {
  skip,
}, async () => {
  using dir = tempDir();
  const project = `${dir.path}/proj,v2`;
  mkdirSync(project);
  const status = await runChild("../../src/cli.ts", {
    args: ["status", "--json"],
    cwd: project,
    env: {
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_ENDPOINT: "http://127.0.0.1:9/e",
      NAT_TELEMETRY_SPOOL_DIR: `${dir.path}/spool`,
      NAT_TELEMETRY_CONSENT_FILE: "telemetry.toml",
      NAT_TELEMETRY_HANDOFF: "1",
      CI: undefined,
    },
  });
  const { atExit } = JSON.parse(status.stdout);
  // Else the sender could not read the consent file, would take it for "never asked", and send after an opt-out.
  assert.equal(atExit.handOff, false, status.stdout);
  assert.match(atExit.reason, /comma: .*proj,v2\/telemetry\.toml/);
});

test("Deno as root that may not know it (no --allow-sys), with another user's HOME: nothing made in their tree", {
  skip: skip || (process.getuid?.() !== 0 && "needs root"),
}, async () => {
  using dir = tempDir();
  const home = `${dir.path}/home`;
  mkdirSync(home, { mode: 0o755 });
  chownSync(home, 65534, 65534);
  const flags = ["--allow-env", "--allow-read", "--allow-write"];
  const result = await onTerminal(flags, {}, ["consent", `${home}/.config/nat/telemetry.toml`]);
  assert.match(result.stdout, /saved: false/);
  mkdirSync(`${home}/.config`, { mode: 0o755 });
  chownSync(`${home}/.config`, 65534, 65534);
  const existing = await onTerminal(flags, {}, ["consent", `${home}/.config/telemetry.toml`]);
  assert.match(existing.stdout, /saved: false/);
  assert.deepEqual(readdirSync(home), [".config"], "what was made is taken back");
  assert.deepEqual(readdirSync(`${home}/.config`), [], "what was written is taken back");
});

test("Deno, the README's narrowest set on a home without ~/.config: `enable` names the directory the user is to make", {
  skip,
}, async () => {
  using dir = tempDir();
  const home = `${dir.path}/home`;
  mkdirSync(home, { mode: 0o700 });
  const places = `${home}/.config/nat,${home}/.local/state/nat`;
  const flags = ["--allow-env", `--allow-read=${places}`, `--allow-write=${places}`, "--allow-sys=uid,gid"];
  const env = { HOME: home, NAT_TELEMETRY_CONSENT_FILE: undefined, XDG_CONFIG_HOME: undefined };
  const run = await runChild("../../examples/cli.ts", { denoFlags: flags, args: ["telemetry", "enable"], env });
  assert.equal(run.code, 1);
  assert.match(run.stderr, new RegExp(`${home}/\\.config does not exist, and the program may not make it`));
  mkdirSync(`${home}/.config`, { mode: 0o700 });
  const again = await runChild("../../examples/cli.ts", { denoFlags: flags, args: ["telemetry", "enable"], env });
  assert.equal(again.code, 0, again.stderr);
  assert.match(readFileSync(`${home}/.config/nat/telemetry.toml`, "utf8"), /consent = "enabled"/);
});

test(
  "Deno: a spool directory that does not exist yet, with only it allowed: created, no prompt",
  { skip },
  async () => {
    using dir = tempDir();
    const spool = `${dir.path}/state/spool`;
    const server = await TestServer.start();
    try {
      await onTerminal(["--allow-env", "--allow-net=127.0.0.1", `--allow-read=${spool}`, `--allow-write=${spool}`], {
        NAT_TELEMETRY_ENDPOINT: server.url(),
        NAT_TELEMETRY_SPOOL_DIR: spool,
      });
      assert.deepEqual(commands(server.events()), ["permissions"]);
    } finally {
      await server.close();
    }
  },
);

test("Deno: a comma in the spool's path cannot be granted to a sender: the exit delivers in process", {
  skip,
}, async () => {
  using dir = tempDir();
  const spool = `${dir.path}/a,b`;
  const server = await TestServer.start();
  try {
    await onTerminal(["-A"], {
      NAT_TELEMETRY_ENDPOINT: server.url(),
      NAT_TELEMETRY_SPOOL_DIR: spool,
      NAT_TELEMETRY_HANDOFF: "1",
    });
    assert.deepEqual(commands(server.events()), ["permissions"], "delivered before the run ended");
    assert.deepEqual(senderLocks(spool), []);
  } finally {
    await server.close();
  }
});

test("Deno: the spool's fallback is not taken through a TMPDIR link to a place the program may not write", {
  skip: runtimeInfo().name !== "deno" && "Deno permissions only",
}, async () => {
  using dir = tempDir();
  mkdirSync(`${dir.path}/base`);
  mkdirSync(`${dir.path}/elsewhere`);
  symlinkSync(`${dir.path}/elsewhere`, `${dir.path}/base/tmp`);
  // Deno checks a write on the path as given: through the link, the fallback would be made where it may not write.
  const probe = `${dir.path}/probe.ts`;
  writeFileSync(
    probe,
    `import { spoolFallbackOf } from ${JSON.stringify(new URL("../src/backlog.ts", import.meta.url).href)};
import { resolveOptions } from ${JSON.stringify(new URL("../src/options.ts", import.meta.url).href)};
import { host } from ${JSON.stringify(new URL("../src/runtime/mod.ts", import.meta.url).href)};
console.log(spoolFallbackOf({ ...resolveOptions({}), spoolFallback: true }, host().files));
`,
  );
  const flags = ["--allow-read", "--allow-env", `--allow-write=${dir.path}/base`, "--allow-sys=uid,gid"];
  const result = await runChild("permissions_child.ts", {
    executable: process.execPath,
    args: ["run", ...flags, probe],
    env: { TMPDIR: `${dir.path}/base/tmp` },
  });
  assert.equal(result.stdout.trim(), `/tmp/nat-telemetry-${process.getuid?.()}`, result.stderr);
  assert.deepEqual(readdirSync(`${dir.path}/elsewhere`), [], "nothing made there");
});

test("Deno: a spool directory reached through a link to a place the program may not work in is not made there", {
  skip,
}, async () => {
  using dir = tempDir();
  mkdirSync(`${dir.path}/base`);
  mkdirSync(`${dir.path}/elsewhere`);
  symlinkSync(`${dir.path}/elsewhere`, `${dir.path}/base/link`);
  // Deno grants a mkdir on the path as given: through the link, the spool would be made outside the grants.
  const base = `${dir.path}/base`;
  const spool = `${base}/link/spool`;
  const grants = [
    [`--allow-read=${base}`, `--allow-write=${base}`],
    ["--allow-read", `--allow-write=${base}`],
    [`--allow-read=${spool}`, `--allow-write=${spool}`], // as the README's set grants: the spool's path alone
  ];
  for (const grant of grants) {
    const result = await onTerminal(["--allow-env", ...grant, "--allow-sys=uid,gid"], {
      NAT_TELEMETRY_SPOOL_DIR: spool,
      NAT_TELEMETRY_DEBUG: "1",
    });
    assert.deepEqual(readdirSync(`${dir.path}/elsewhere`), [], `${grant}: nothing made there`);
    assert.match(result.stdout, new RegExp(`may not read and write ${dir.path}/elsewhere/spool, where`), `${grant}`);
  }
});

test("Deno: a consent file's directory made through a dotfiles link, granted as given: the decision is saved there", {
  skip,
}, async () => {
  using dir = tempDir();
  mkdirSync(`${dir.path}/base`);
  mkdirSync(`${dir.path}/dotfiles`);
  symlinkSync(`${dir.path}/dotfiles`, `${dir.path}/base/.config`);
  const file = `${dir.path}/base/.config/nat/telemetry.toml`;
  const asGiven = `${dir.path}/base/.config/nat`;
  // Where it may read where the link leads, and where it may not (the README's set): the user's other tools read it.
  for (const read of ["--allow-read", `--allow-read=${asGiven}`]) {
    rmSync(`${dir.path}/dotfiles/nat`, { recursive: true, force: true });
    const result = await onTerminal(["--allow-env", read, `--allow-write=${asGiven}`, "--allow-sys=uid,gid"], {}, [
      "consent",
      file,
    ]);
    assert.match(result.stdout, /saved: true/, read);
    assert.match(readFileSync(`${dir.path}/dotfiles/nat/telemetry.toml`, "utf8"), /consent = "disabled"/, read);
  }
});
