/**
 * The sender in the field: a slow endpoint and a backlog of runs, a spool that
 * cannot be written, a request in flight at `stop()`, the program's own
 * `fetch`, a pipe held by the shell, the program's runtime flags, an opt-out
 * during the run, several endpoints on one spool, a redirect, OTLP, Node's
 * permission model, and a spool whose parent another user owns. Real child
 * processes per runtime (and a Bun executable under Bun), real loopback
 * servers, real spools and mounts; waits are bounded, never timed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import process from "node:process";
import { NATTelemetryHandler, setTelemetryEnabled } from "../mod.ts";
import { MAX_CONCURRENT_REQUESTS } from "../src/handler.ts";
import { host, runtimeInfo } from "../src/runtime/mod.ts";
import { drainSpool } from "../src/sender.ts";
import { dropsRecords } from "../src/drops_record.ts";
import { shortHash } from "../src/hash.ts";
import { senderScript } from "../src/sender_script.ts";
import { SENDER_SCRIPT_NAME } from "../src/sender_script_name.ts";
import {
  canRun,
  type ChildOptions,
  fixturePath,
  runChild,
  runtimeCommand,
  startChild,
  targetsFor,
} from "./helpers/child.ts";
import { commandEvent, commands } from "./helpers/events.ts";
import { type ReceivedRequest, TestServer } from "./helpers/server.ts";
import { handOffEnv, inContainer, senderProcesses, sendersGone } from "./helpers/handoff.ts";
import { canUnshare } from "./helpers/shipping.ts";
import { senderLocks, spooled, spoolEvent, tempDir } from "./helpers/spool_dir.ts";
import { spoolKey } from "../src/spool.ts";
import { waitFor } from "./helpers/wait.ts";

const runtime = runtimeInfo().name;
const linux = process.platform === "linux";
const asRoot = linux && process.getuid?.() === 0;
const targets = targetsFor("exit_child.ts");

/** The commands of OTLP requests (one log record per event; the command is an attribute). */
function otlpCommands(requests: ReceivedRequest[]): string[] {
  return requests.flatMap((request) => {
    const { resourceLogs } = JSON.parse(request.body);
    return resourceLogs.flatMap((resource: { scopeLogs: { logRecords: { attributes: unknown[] }[] }[] }) =>
      resource.scopeLogs.flatMap((scope) =>
        scope.logRecords.map((record) => {
          const attribute = (record.attributes as { key: string; value: { stringValue?: string } }[])
            .find(({ key }) => key === "command");
          return attribute?.value.stringValue ?? "";
        })
      )
    );
  });
}

for (const { label, executable } of targets) {
  const child = (mode: string, options: ChildOptions) =>
    runChild("exit_child.ts", { executable, args: [mode], ...options });

  for (const [format, runs] of [["nat", 30], ["otlp", 12]] as const) {
    test(
      `${label}: ${runs} runs in a row against a 300 ms endpoint (${format}): every event arrives once, soon after the last exit`,
      {
        skip: !linux && "counts senders through /proc",
      },
      async () => {
        using dir = tempDir();
        const server = await TestServer.start(() => ({ status: 200, delayMs: 300 }));
        try {
          const expected = Array.from({ length: runs }, (_, i) => `run-${i}`);
          for (const command of expected) {
            const run = await child("natural", {
              env: handOffEnv(dir.path, server.url(), command, { NAT_TELEMETRY_FORMAT: format }),
            });
            assert.equal(run.code, 0, run.stderr);
          }
          const lastExit = Date.now();
          const received = () =>
            format === "nat" ? commands(server.events()).map(String) : otlpCommands(server.requests);
          await waitFor(() => received().length >= runs, `all ${runs} events`, 15_000);
          const delay = Date.now() - lastExit;
          await sendersGone(dir.path);
          assert.deepEqual(
            received().sort(),
            expected.sort(),
            `each exactly once (the last arrived ${delay} ms after the last exit)`,
          );
          assert.deepEqual(spooled(dir.path), []);
        } finally {
          await server.close();
        }
      },
    );
  }

  // The sender's script is in place (as after any earlier hand-off), so what fails is the spool write itself.
  const mounts = {
    "a read-only spool directory":
      'mount -t tmpfs -o size=1m,mode=0700 tmpfs "$SPOOL"; cp "$SCRIPT" "$SPOOL/"; mount -o remount,ro "$SPOOL"',
    "a full disk":
      'mount -t tmpfs -o size=256k,mode=0700 tmpfs "$SPOOL"; cp "$SCRIPT" "$SPOOL/"; cat /dev/zero > "$SPOOL/fill" || true',
    // The endpoint held down by an earlier run's failure, then the disk filled: the spool cannot take the events.
    "a full disk and the endpoint marked down before it filled":
      'mount -t tmpfs -o size=256k,mode=0700 tmpfs "$SPOOL"; cp "$SCRIPT" "$SPOOL/"; printf %s "$HEALTH" > "$SPOOL/$HEALTH_FILE"; chmod 600 "$SPOOL/$HEALTH_FILE"; cat /dev/zero > "$SPOOL/fill" || true',
  };
  for (const [kind, mount] of Object.entries(mounts)) {
    test(`${label}: with ${kind}, the exit delivers in process and leaves nothing behind`, {
      skip: !(canUnshare && asRoot) && "needs root to mount a file system in a mount namespace",
    }, async () => {
      using dir = tempDir();
      const server = await TestServer.start();
      try {
        const spool = `${dir.path}/spool`;
        mkdirSync(spool, { mode: 0o700 });
        writeFileSync(`${dir.path}/${SENDER_SCRIPT_NAME}`, senderScript());
        const listing = `${dir.path}/listing`;
        // In a mount namespace of its own: mount the spool, run the program, then list what it left there.
        const script = `set -e; ${mount} 2>/dev/null; set +e; "$@"; code=$?; ls -A "$SPOOL" > "${listing}"; exit $code`;
        const program = executable
          ? [executable, "natural"]
          : [...runtimeCommand(fixturePath("exit_child.ts")), "natural"];
        const run = await runChild("exit_child.ts", {
          executable: "unshare",
          args: ["--mount", "sh", "-c", script, "sh", ...program],
          env: {
            ...handOffEnv(spool, server.url(), "unwritable"),
            SPOOL: spool,
            SCRIPT: `${dir.path}/${SENDER_SCRIPT_NAME}`,
            HEALTH_FILE: `health-${shortHash(server.url())}.json`,
            HEALTH: JSON.stringify({ failures: 1, notBefore: Date.now() + 3_600_000 }),
          },
        });
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(commands(server.events()), ["unwritable"], "delivered before the run ended");
        const left = readFileSync(listing, "utf8").split("\n").filter((name) => name && name !== "fill");
        assert.deepEqual(left, [SENDER_SCRIPT_NAME], "no lock, no temporary file, no spool file");
      } finally {
        await server.close();
      }
    });
  }

  for (const fd of [3, 12]) {
    test(`${label}: a pipe the shell opened on descriptor ${fd} closes when the program ends, not its sender`, {
      skip: !(linux && canRun("bash", "--version"))
        ? "counts senders through /proc; bash opens descriptor 12"
        : inContainer && "in a container, the exit delivers in process: there is no sender",
    }, async () => {
      using dir = tempDir();
      const server = await TestServer.start(() => ({ hang: true }));
      try {
        const program = executable
          ? [executable, "natural"]
          : [...runtimeCommand(fixturePath("exit_child.ts")), "natural"];
        const run = await runChild("exit_child.ts", {
          executable: "bash",
          args: ["-c", `"$@" ${fd}>&1 | cat`, "bash", ...program],
          env: handOffEnv(dir.path, server.url(), "piped", {
            NAT_TEST_OPTIONS: JSON.stringify({ requestTimeoutSeconds: 10 }),
            NODE_OPTIONS: "--no-warnings",
          }),
        });
        assert.equal(run.code, 0, run.stderr);
        // The pipeline ended while the sender still waits on the silent endpoint: it never held the pipe. (Looked for
        // a little while: once, on a loaded machine, it was not seen at once.)
        await waitFor(() => senderProcesses(dir.path).length > 0, "the sender at work", 3_000);
        const alive = senderProcesses(dir.path);
        assert.equal(alive.length, 1, "the sender is still at work");
        const environ = readFileSync(`/proc/${alive[0]}/environ`, "latin1").split("\0");
        assert.ok(
          !environ.some((entry) => entry.startsWith("NODE_OPTIONS=")),
          "the program's runtime flags stay its own",
        );
        assert.ok(!environ.some((entry) => entry.startsWith("NAT_TEST_")), "nothing but what the sender needs");
        process.kill(alive[0], "SIGKILL");
      } finally {
        await server.close();
      }
    });
  }

  test(`${label}: an opt-out recorded during the run: nothing is sent, this run's event is not kept, earlier ones stay unsent`, async () => {
    using dir = tempDir();
    const server = await TestServer.start();
    try {
      const spool = `${dir.path}/spool`;
      mkdirSync(spool, { mode: 0o700 });
      for (const n of [1, 2]) spoolEvent(spool, server.url(), `earlier-${n}`, "s", n);
      const consent = `${dir.path}/telemetry.toml`;
      writeFileSync(consent, '[telemetry]\nconsent = "enabled"\nprompt_version = "1.0"\n');
      const env = handOffEnv(spool, server.url(), "opting-out", { NAT_TELEMETRY_CONSENT_FILE: consent });
      const run = await child("opt-out", { env: { ...env, NAT_TELEMETRY_ENABLED: undefined } });
      assert.equal(run.code, 0, run.stderr);
      assert.match(readFileSync(consent, "utf8"), /consent = "disabled"/);
      await new Promise((resolve) => setTimeout(resolve, 1000)); // a sender, had one started, would have sent
      assert.deepEqual(commands(server.events()), [], "nothing after the opt-out, this run's event included");
      assert.deepEqual(spooled(spool).map(({ event }) => event.parameters.command).sort(), ["earlier-1", "earlier-2"]);
      assert.deepEqual(senderLocks(spool), []);
    } finally {
      await server.close();
    }
  });

  test(`${label}: an opt-out in another shell while a command runs: its event is neither sent nor kept`, async () => {
    // `disable` (the file rewritten), or the file replaced by a link to one that says no (read as no, as at a start).
    for (const [handOff, optOut] of [["1", "disable"], ["0", "disable"], ["0", "link"]]) {
      using dir = tempDir();
      const server = await TestServer.start();
      try {
        const spool = `${dir.path}/spool`;
        mkdirSync(spool, { mode: 0o700 });
        const consent = `${dir.path}/telemetry.toml`;
        writeFileSync(consent, '[telemetry]\nconsent = "enabled"\nprompt_version = "1.0"\n');
        const env = handOffEnv(spool, server.url(), "paused", { NAT_TELEMETRY_CONSENT_FILE: consent });
        const started = startChild("exit_child.ts", {
          executable,
          args: ["pause"],
          env: { ...env, NAT_TELEMETRY_ENABLED: undefined, NAT_TELEMETRY_HANDOFF: handOff, CI: undefined },
        });
        await new Promise<void>((resolve) => started.process.stdout?.once("data", () => resolve()));
        // `mycli telemetry disable` in another shell, while the command works.
        const disabled = '[telemetry]\nconsent = "disabled"\nprompt_version = "1.0"\n';
        if (optOut === "disable") writeFileSync(consent, disabled);
        else {
          writeFileSync(`${dir.path}/dotfiles.toml`, disabled);
          rmSync(consent);
          symlinkSync(`${dir.path}/dotfiles.toml`, consent);
        }
        const run = await started.result;
        assert.equal(run.code, 0, run.stderr);
        await new Promise((resolve) => setTimeout(resolve, 1000)); // a sender, had one started, would have sent
        assert.deepEqual(commands(server.events()), [], `hand-off ${handOff}: nothing sent after the opt-out`);
        assert.deepEqual(spooled(spool), [], `hand-off ${handOff}: nothing kept for a later run`);
        assert.deepEqual(senderLocks(spool), []);
      } finally {
        await server.close();
      }
    }
  });

  test(`${label}: a command that points HOME elsewhere follows the consent file that decided: delivered`, async () => {
    for (const handOff of ["1", "0"]) {
      using dir = tempDir();
      const server = await TestServer.start();
      try {
        const [home, sandbox, spool] = ["home", "sandbox", "spool"].map((name) => `${dir.path}/${name}`);
        for (const path of [`${home}/.config/nat`, sandbox, spool]) mkdirSync(path, { recursive: true, mode: 0o700 });
        const enabled = '[telemetry]\nconsent = "enabled"\nprompt_version = "1.0"\n';
        writeFileSync(`${home}/.config/nat/telemetry.toml`, enabled);
        const env = handOffEnv(spool, server.url(), "sandboxed", { HOME: home, NAT_TEST_HOME: sandbox });
        const run = await child("natural", {
          env: {
            ...env,
            NAT_TELEMETRY_ENABLED: undefined,
            NAT_TELEMETRY_CONSENT_FILE: undefined,
            NAT_TELEMETRY_HANDOFF: handOff,
            CI: undefined,
          },
        });
        assert.equal(run.code, 0, run.stderr);
        await waitFor(() => server.events().length > 0, `hand-off ${handOff}: the delivery`, 10_000);
        assert.deepEqual(commands(server.events()), ["sandboxed"]);
        await sendersGone(spool);
      } finally {
        await server.close();
      }
    }
  });

  test(`${label}: a consent file named relative, and a command that changes directory: its sender delivers`, async () => {
    using dir = tempDir();
    const server = await TestServer.start();
    try {
      const [home, elsewhere, spool] = ["home", "elsewhere", "spool"].map((name) => `${dir.path}/${name}`);
      for (const path of [home, elsewhere, spool]) mkdirSync(path, { mode: 0o700 });
      writeFileSync(`${home}/telemetry.toml`, '[telemetry]\nconsent = "enabled"\nprompt_version = "1.0"\n');
      const env = handOffEnv(spool, server.url(), "moved", { NAT_TELEMETRY_CONSENT_FILE: "telemetry.toml" });
      const run = await child("natural", {
        cwd: home,
        env: { ...env, NAT_TELEMETRY_ENABLED: undefined, NAT_TEST_CHDIR: elsewhere, CI: undefined },
      });
      assert.equal(run.code, 0, run.stderr);
      // The sender follows the decision the run started with, in home/, not one in elsewhere/ that is not there.
      await waitFor(() => server.events().length > 0, "the sender's delivery", 10_000);
      assert.deepEqual(commands(server.events()), ["moved"]);
      await sendersGone(spool);
    } finally {
      await server.close();
    }
  });

  const optOuts = {
    // The user edits the file: what the sender took waits in the spool, unsent.
    "the consent file says disabled": (consent: string) =>
      writeFileSync(consent, '[telemetry]\nconsent = "disabled"\nprompt_version = "1.0"\n'),
    // `nat-telemetry disable` clears the spool, claimed files too; an `enable` right after must not bring them back.
    "`disable`, then `enable` at once": (consent: string, spool: string) => {
      writeFileSync(consent, '[telemetry]\nconsent = "disabled"\nprompt_version = "1.0"\n');
      for (const name of readdirSync(spool)) if (/^[el]-/.test(name)) rmSync(`${spool}/${name}`);
      writeFileSync(consent, '[telemetry]\nconsent = "enabled"\nprompt_version = "1.0"\n');
    },
  };
  for (const [optOut, record] of Object.entries(optOuts)) {
    test(`${label}: ${optOut} while a sender delivers: it sends nothing it took from the spool after that`, async () => {
      using dir = tempDir();
      const server = await TestServer.start(() => ({ status: 200, delayMs: 1500 }));
      try {
        const spool = `${dir.path}/spool`;
        mkdirSync(spool, { mode: 0o700 });
        // Twelve earlier runs' events, each of its own session: twelve requests, at most four at a time.
        for (let n = 0; n < 12; n++) spoolEvent(spool, server.url(), `earlier-${n}`, `s${n}`, n);
        const consent = `${dir.path}/telemetry.toml`;
        writeFileSync(consent, '[telemetry]\nconsent = "enabled"\nprompt_version = "1.0"\n');
        const env = handOffEnv(spool, server.url(), "last", { NAT_TELEMETRY_CONSENT_FILE: consent });
        const run = await child("natural", { env: { ...env, NAT_TELEMETRY_ENABLED: undefined } });
        assert.equal(run.code, 0, run.stderr);
        await waitFor(() => server.requests.length > 0, "the sender's first request", 10_000);
        record(consent, spool);
        await sendersGone(spool);
        const sent = server.events().length;
        assert.ok(sent <= MAX_CONCURRENT_REQUESTS, `${sent} events sent: only those in flight at the opt-out`);
        const left = optOut.startsWith("the consent file") ? 13 - sent : 0;
        assert.equal(spooled(spool).length, left, "the rest waits unsent, or is gone with the spool it was in");
      } finally {
        await server.close();
      }
    });
  }

  test(`${label}: two endpoints share a spool: each run's event is delivered without waiting for a later run`, async () => {
    using dir = tempDir();
    const slow = await TestServer.start(() => ({ status: 200, delayMs: 1000 }));
    const fast = await TestServer.start();
    try {
      const first = await child("natural", { env: handOffEnv(dir.path, slow.url(), "to-slow") });
      const second = await child("natural", { env: handOffEnv(dir.path, fast.url(), "to-fast") });
      assert.deepEqual([first.code, second.code], [0, 0]);
      await waitFor(() => slow.events().length > 0 && fast.events().length > 0, "both deliveries", 15_000);
      assert.deepEqual([commands(slow.events()), commands(fast.events())], [["to-slow"], ["to-fast"]]);
      await sendersGone(dir.path);
    } finally {
      await slow.close();
      await fast.close();
    }
  });

  test(`${label}: a 307 to another host:port is followed by the sender as by the program`, async () => {
    using dir = tempDir();
    const target = await TestServer.start();
    const redirecting = await TestServer.start(() => ({ status: 307, headers: { location: target.url() } }));
    try {
      const run = await child("natural", { env: handOffEnv(dir.path, redirecting.url(), "redirected") });
      assert.equal(run.code, 0, run.stderr);
      await waitFor(() => target.events().length > 0, "the redirected delivery", 15_000);
      assert.deepEqual(commands(target.events()), ["redirected"]);
    } finally {
      await target.close();
      await redirecting.close();
    }
  });
}

test(`${runtime}: a sender's passes against an endpoint that fails every other request space an event's tries`, async () => {
  using dir = tempDir();
  const tries = new Map<string, number[]>();
  const server = await TestServer.start((request, index) => {
    for (const command of commands(JSON.parse(request.body).events).map(String)) {
      tries.set(command, [...(tries.get(command) ?? []), Date.now()]);
    }
    return { status: index % 2 === 0 ? 500 : 200 };
  });
  try {
    const spool = `${dir.path}/spool`;
    mkdirSync(spool, { mode: 0o700 });
    for (let n = 0; n < 12; n++) spoolEvent(spool, server.url(), `e${n}`, `s${n}`, n);
    setTelemetryEnabled(true);
    const options = { endpoint: server.url(), spoolDir: spool, backoffInitialSeconds: 0.2 };
    const drained = await drainSpool(options, host().monotonicMs() + 10_000);
    for (const [command, times] of tries) {
      // The first retry waits 0.1-0.2 s (half the backoff, and a random share of the other half), later ones more.
      const gaps = times.slice(1).map((time, i) => time - times[i]);
      assert.ok(gaps.every((gap) => gap >= 90), `${command} tried again after ${gaps.join(", ")} ms`);
    }
    const dropped = Object.values(drained.dropped).reduce((sum, n) => sum + n, 0);
    assert.equal(drained.sent + dropped + spooled(spool).length, 12, "each sent, dropped by rule or waiting");
    assert.ok(drained.sent >= 6, `${drained.sent} sent: the passes go on after a failure`);
  } finally {
    await server.close();
  }
});

test(`${runtime}: stop() while a flush is in flight lets the request end: nothing is handed off twice`, async () => {
  using dir = tempDir();
  setTelemetryEnabled(true);
  const server = await TestServer.start(() => ({ status: 200, delayMs: 300 }));
  try {
    const handler = new NATTelemetryHandler({ endpoint: server.url(), spoolDir: dir.path, handOff: true });
    for (let i = 0; i < 50; i++) handler.enqueue(commandEvent(`e${i}`)); // the 50th starts an early flush
    await new Promise((resolve) => setTimeout(resolve, 50));
    await handler.stop();
    await new Promise((resolve) => setTimeout(resolve, 1000)); // a sender, had one started, would have sent
    assert.equal(server.events().length, 50, "each event once");
    assert.equal(new Set(commands(server.events())).size, 50);
    const stats = handler.stats();
    assert.deepEqual([stats.sent, stats.spooled], [50, 0], JSON.stringify(stats));
  } finally {
    await server.close();
  }
});

test(`${runtime}: a program's own fetch (one that signs requests) is kept: the exit delivers in process with it`, async () => {
  using dir = tempDir();
  setTelemetryEnabled(true);
  const server = await TestServer.start((request) => ({
    status: request.headers.authorization === "Bearer signed" ? 200 : 401,
  }));
  try {
    const handler = new NATTelemetryHandler({
      endpoint: server.url(),
      spoolDir: dir.path,
      handOff: true,
      fetch: (url, init) =>
        globalThis.fetch(url, { ...init, headers: { ...init?.headers as object, authorization: "Bearer signed" } }),
    });
    handler.enqueue(commandEvent("signed"));
    await handler.stop();
    assert.deepEqual(commands(server.events()), ["signed"]);
    assert.equal(handler.stats().sent, 1);
    assert.deepEqual(senderLocks(dir.path), []);
  } finally {
    await server.close();
  }
});

test(`${runtime}: a sender started after the user opted out sends nothing, leaves the events, removes the start mark`, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const spool = `${dir.path}/spool`;
    mkdirSync(spool, { mode: 0o700 });
    const file = spoolEvent(spool, server.url(), "waiting", "s", 1);
    // The mark of the run that started it: left, it would hold the next runs off as if a sender were coming.
    const mark = `${spool}/sender-${spoolKey(server.url())}-${Date.now()}-0123456789ab.start`;
    writeFileSync(mark, "");
    const consent = `${dir.path}/telemetry.toml`;
    writeFileSync(consent, '[telemetry]\nconsent = "disabled"\nprompt_version = "1.0"\n');
    writeFileSync(`${spool}/${SENDER_SCRIPT_NAME}`, senderScript());
    const config = { endpoint: server.url(), spoolDir: spool, format: "nat", requestTimeoutSeconds: 2 };
    const [command, ...args] = runtimeCommand(`${spool}/${SENDER_SCRIPT_NAME}`);
    const run = await runChild("exit_child.ts", {
      executable: command,
      args,
      env: { NAT_TELEMETRY_SENDER: JSON.stringify(config), NAT_TELEMETRY_CONSENT_FILE: consent },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(server.requests.length, 0, "nothing sent");
    assert.ok(existsSync(file), "the spooled event is untouched");
    assert.equal(existsSync(mark), false, "the start mark is gone");
  } finally {
    await server.close();
  }
});

test(`${runtime}: a consent file rewritten by hand with no decision in it stops a sender whose program it had turned on`, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const spool = `${dir.path}/spool`;
    mkdirSync(spool, { mode: 0o700 });
    writeFileSync(`${spool}/${SENDER_SCRIPT_NAME}`, senderScript());
    const consent = `${dir.path}/telemetry.toml`;
    writeFileSync(consent, "[telemetry]\nenabled = false\n"); // the user's opt-out, not in the file's words
    const [command, ...args] = runtimeCommand(`${spool}/${SENDER_SCRIPT_NAME}`);
    const sender = (onByConsentFile: boolean) => {
      const config = {
        endpoint: server.url(),
        spoolDir: spool,
        format: "nat",
        requestTimeoutSeconds: 2,
        onByConsentFile,
      };
      return runChild("exit_child.ts", {
        executable: command,
        args,
        env: { NAT_TELEMETRY_SENDER: JSON.stringify(config), NAT_TELEMETRY_CONSENT_FILE: consent },
      });
    };
    const file = spoolEvent(spool, server.url(), "waiting", "s", 1);
    // The file's yes had turned the program on: it says yes no more, so the sender sends nothing.
    assert.equal((await sender(true)).code, 0);
    assert.equal(server.requests.length, 0, "nothing sent");
    assert.ok(existsSync(file), "the spooled event is untouched");
    // The program had turned itself on (setTelemetryEnabled), nobody having decided: what it handed over goes.
    assert.equal((await sender(false)).code, 0);
    assert.deepEqual(commands(server.events()), ["waiting"]);
  } finally {
    await server.close();
  }
});

test("node: --permission without --allow-child-process: the exit delivers in process", {
  skip: runtime !== "node" && "Node.js's permission model",
}, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const run = await runChild("exit_child.ts", {
      executable: process.execPath,
      args: ["--permission", "--allow-fs-read=*", "--allow-fs-write=*", fixturePath("exit_child.ts"), "natural"],
      env: handOffEnv(dir.path, server.url(), "permission"),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(commands(server.events()), ["permission"], "delivered before the run ended");
    assert.deepEqual(senderLocks(dir.path), []);
  } finally {
    await server.close();
  }
});

test(
  "node: --permission granted where HOME is given, not where its link leads (/home/u linked to /var/home/u): spooled, and its sender delivers",
  {
    // Deno checks a file's stat where a link leads: there the spool must be granted where it leads (security.md).
    skip: (runtime !== "node" && "Node.js's permission model") ||
      (inContainer && "in a container, the exit delivers in process: there is no sender"),
  },
  async () => {
    using dir = tempDir();
    const server = await TestServer.start();
    try {
      mkdirSync(`${dir.path}/var/u/.config/nat`, { recursive: true, mode: 0o700 });
      symlinkSync(`${dir.path}/var`, `${dir.path}/home`);
      const home = `${dir.path}/home/u`;
      writeFileSync(`${home}/.config/nat/telemetry.toml`, '[telemetry]\nconsent = "enabled"\nprompt_version = "1.0"\n');
      // Everything may be read (who may change the directories above the spool is told), only HOME written, as given.
      const flags = ["--permission", "--allow-fs-read=*", `--allow-fs-write=${home}/*`, "--allow-child-process"];
      const run = await runChild("exit_child.ts", {
        executable: process.execPath,
        args: [...flags, fixturePath("exit_child.ts"), "natural"],
        env: {
          ...handOffEnv(`${home}/.local/state/nat/telemetry`, server.url(), "linked"),
          HOME: home,
          NAT_TELEMETRY_ENABLED: undefined,
          NAT_TELEMETRY_CONSENT_FILE: undefined,
          NAT_TELEMETRY_DEBUG: "1",
        },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /at exit: handed off to a sender/);
      await waitFor(() => server.events().length > 0, "the sender's delivery", 10_000);
      await sendersGone(`${home}/.local/state/nat/telemetry`);
      assert.deepEqual(commands(server.events()), ["linked"]);
    } finally {
      await server.close();
    }
  },
);

test(
  "node: --permission flags a sender would not get as they are (NODE_OPTIONS; a path relative, split, quoted, in the next argument): in process",
  {
    skip: runtime !== "node" && "Node.js's permission model",
  },
  async () => {
    const cases: [string, string[], string | undefined][] = [
      ["a relative path", ["--allow-fs-read=./configs/*"], undefined],
      ["a space", ["--allow-fs-read=/srv/my configs/*"], undefined],
      ["a quote", ['--allow-fs-read=/srv/"configs"/*'], undefined],
      ["the path in the next argument", ["--allow-fs-read", "/srv/configs/*"], undefined],
      ["flags in NODE_OPTIONS", [], "--permission --allow-fs-read=* --allow-child-process"],
    ];
    for (const [what, grant, nodeOptions] of cases) {
      using dir = tempDir();
      const server = await TestServer.start();
      try {
        const flags = nodeOptions === undefined ? ["--permission", "--allow-fs-read=*", "--allow-child-process"] : [];
        const write = `--allow-fs-write=${dir.path}/*`;
        const run = await runChild("exit_child.ts", {
          executable: process.execPath,
          args: [
            ...flags,
            ...(nodeOptions === undefined ? [write] : []),
            ...grant,
            fixturePath("exit_child.ts"),
            "natural",
          ],
          env: {
            ...handOffEnv(dir.path, server.url(), "granted"),
            NAT_TELEMETRY_DEBUG: "1",
            ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: `${nodeOptions} ${write}` }),
          },
        });
        assert.equal(run.code, 0, run.stderr);
        assert.match(
          run.stderr,
          /delivering in process: Node\.js runs with --permission flags its sender would not/,
          what,
        );
        assert.deepEqual(commands(server.events()), ["granted"], `${what}: delivered before the run ended`);
        assert.deepEqual(senderLocks(dir.path), []);
      } finally {
        await server.close();
      }
    }
  },
);
test(`${runtime}: a spool whose parent another user owns is not used (it could be swapped for a link): in process`, {
  skip: !(asRoot && canRun("setpriv", "--version")) && "needs root to make a second user's directory",
}, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const theirs = `${dir.path}/theirs`;
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, 65534, 65534);
    const spool = `${theirs}/spool`;
    mkdirSync(spool, { mode: 0o700 }); // ours, in a directory they may rename things in
    const run = await runChild("exit_child.ts", {
      args: ["natural"],
      env: handOffEnv(spool, server.url(), "swappable"),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(commands(server.events()), ["swappable"], "delivered before the run ended");
    assert.deepEqual(spooled(spool), []);
    assert.deepEqual(senderLocks(spool), [], "no lock written where the parent's owner could redirect it");
    assert.equal(existsSync(`${spool}/${SENDER_SCRIPT_NAME}`), false, "no script written there either");
  } finally {
    await server.close();
  }
});

/**
 * 40 runs' events waiting (a session each: four requests at a time, 1.5 s each, are more than a sender's 15 s of work)
 * and a run that hands them off, of a program that is the runtime under a path of its own, as an installed CLI is (a
 * copy: a hard link would change the runtime's own file, which other tests' senders look at).
 */
async function handOffWithBacklog(dir: string, url: string): Promise<{ spool: string; program: string }> {
  const spool = `${dir}/spool`;
  mkdirSync(spool, { mode: 0o700 });
  for (let i = 0; i < 40; i++) spoolEvent(spool, url, `waiting-${i}`, `s${i}`, i);
  const program = `${dir}/mycli`;
  copyFileSync(process.execPath, program);
  chmodSync(program, 0o755);
  const fixture = fixturePath("exit_child.ts");
  const run = await runChild("exit_child.ts", {
    executable: program,
    args: runtime === "deno" ? ["run", "-A", fixture, "natural"] : [fixture, "natural"],
    env: handOffEnv(spool, url, "last", { NAT_TEST_OPTIONS: '{"requestTimeoutSeconds":2}' }),
  });
  assert.equal(run.code, 0, run.stderr);
  return { spool, program };
}

test(
  `${runtime}: a backlog longer than a sender's life: its successor goes on, with its script dated anew, once each`,
  {
    skip: (inContainer && "in a container, the exit delivers in process: there is no sender") ||
      (!linux && "hard links"),
  },
  async () => {
    using dir = tempDir();
    const server = await TestServer.start(() => ({ status: 200, delayMs: 1500 }));
    try {
      const { spool, program } = await handOffWithBacklog(dir.path, server.url());
      const handedOff = Date.now();
      // While its sender works, the program's file changes in all but its content: its mode set again, a hard link
      // made to it, its times set to what they were. The same program: its successor goes on.
      await waitFor(() => server.events().length > 0, "the sender's first requests");
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // a second on: Deno dates a change by the second
      chmodSync(program, 0o755);
      linkSync(program, `${dir.path}/mycli-linked`);
      execFileSync("touch", ["-r", program, program]); // to the nanosecond, as the system keeps them
      await waitFor(() => server.events().length >= 41, "all 41 events", 45_000);
      await sendersGone(spool);
      assert.equal(new Set(commands(server.events())).size, 41, "each once");
      assert.equal(server.events().length, 41);
      // Dated when the successor started (a sender's life after the hand-off): a newer version's first hand-off, which
      // keeps the scripts written last, does not take it from the successors still to come.
      const dated = statSync(`${spool}/${SENDER_SCRIPT_NAME}`).mtimeMs;
      assert.ok(dated > handedOff + 5_000, `dated ${((dated - handedOff) / 1000).toFixed(1)} s after the hand-off`);
    } finally {
      await server.close();
    }
  },
);

test(`${runtime}: a program replaced while its sender works (its next release): no successor runs the new one`, {
  skip: (inContainer && "in a container, the exit delivers in process: there is no sender") ||
    (!linux && "hard links and shell scripts as executables"),
}, async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 200, delayMs: 1500 }));
  try {
    const { spool, program } = await handOffWithBacklog(dir.path, server.url());
    // Its next release installed over it as soon as it ended: a new file at the path, which tells who runs it. (Deno's
    // sender may not read /proc/self/exe, which tells the file it runs: it compares what it saw when it started.)
    if (runtime === "deno") await waitFor(() => server.events().length > 0, "the sender's first requests");
    const ran = `${dir.path}/new-release-ran`;
    rmSync(program);
    writeFileSync(program, `#!/bin/sh\necho "$@" > '${ran}'\n`, { mode: 0o755 });
    await sendersGone(spool);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(existsSync(ran), false, "the new release was not run as a successor");
    assert.ok(server.events().length < 41, "the sender's life was too short for the backlog");
    assert.ok(spooled(spool).length > 0, "the rest waits for the program's next run");
  } finally {
    await server.close();
  }
});

test(`${runtime}: what a sender drops (an endpoint that refuses the events) is recorded for status and inspect`, {
  skip: inContainer && "in a container, the exit delivers in process: there is no sender",
}, async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 400 }));
  try {
    const run = await runChild("exit_child.ts", {
      args: ["natural"],
      env: handOffEnv(dir.path, server.url(), "refused"),
    });
    assert.equal(run.code, 0, run.stderr);
    await waitFor(() => server.requests.length > 0, "the sender's request");
    await sendersGone(dir.path);
    const recorded = dropsRecords(host().files!, dir.path);
    assert.deepEqual(recorded.map(({ endpoint, dropped }) => ({ endpoint, dropped })), [
      { endpoint: server.url(), dropped: { http_400: 1 } },
    ]);
    assert.deepEqual(spooled(dir.path), []);
  } finally {
    await server.close();
  }
});

test(
  `${runtime}: a sender the OS stops past the end of its life reads the answers that arrived first: none is sent twice`,
  {
    skip: (inContainer && "in a container, the exit delivers in process: there is no sender") ||
      (process.platform === "win32" && "no SIGSTOP"),
  },
  async () => {
    using dir = tempDir();
    // Requests of one event each, four at a time, answered after 1.8 s: those it starts from 8.5 s on, the last ones
    // with a timeout of 4 s, are answered late in its 15 s life. It is stopped just before those answers come, and let
    // run again after its life's end. The timeout leaves seconds past the answer: with 2 s, a loaded machine read an
    // answer after its timeout now and then, and the event was sent again (as documented for a slow endpoint).
    let first = 0;
    let stalled = false;
    const stall = () => {
      for (const pid of senderProcesses(dir.path)) process.kill(pid, "SIGSTOP");
      setTimeout(() => {
        for (const pid of senderProcesses(dir.path)) process.kill(pid, "SIGCONT");
      }, first + 15_500 - Date.now());
    };
    const server = await TestServer.start(() => {
      first ||= Date.now();
      if (stalled) return { status: 200 };
      if (Date.now() - first >= 8_500) {
        stalled = true;
        setTimeout(stall, 1_600);
      }
      return { status: 200, delayMs: 1_800 };
    });
    try {
      mkdirSync(dir.path, { recursive: true, mode: 0o700 });
      for (let i = 0; i < 40; i++) spoolEvent(dir.path, server.url(), `waiting-${i}`, `s${i}`, i);
      const env = { NAT_TEST_OPTIONS: '{"requestTimeoutSeconds":4}' };
      const run = await runChild("exit_child.ts", {
        args: ["natural"],
        env: handOffEnv(dir.path, server.url(), "a", env),
      });
      assert.equal(run.code, 0, run.stderr);
      await waitFor(() => stalled, "a request late in the sender's life", 20_000);
      // Its lock stays, as a killed sender's does, until its life has passed: the process's end is what counts.
      await waitFor(() => senderProcesses(dir.path).length === 0, "the sender's end", 20_000);
      // What is left waits for a later run (the stopped sender's claims have lapsed by now).
      await waitFor(() => Date.now() > first + 17_000, "the claims' end", 20_000);
      const later = await runChild("exit_child.ts", {
        args: ["natural"],
        env: handOffEnv(dir.path, server.url(), "b", env),
      });
      assert.equal(later.code, 0, later.stderr);
      await waitFor(() => new Set(commands(server.events())).size >= 42, "all 42 events", 30_000);
      await sendersGone(dir.path);
      const sent = commands(server.events()).map(String);
      const twice = sent.filter((command, i) => sent.indexOf(command) !== i);
      assert.deepEqual(twice, [], "no event the endpoint accepted is sent again");
    } finally {
      await server.close();
    }
  },
);

test(`${runtime}: no sender can be started (its runtime removed): the exit delivers in process`, {
  skip: runtime === "deno" && "Deno's sender starts through a shell, which reports a missing runtime too late",
}, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const copy = `${dir.path}/runtime`;
    copyFileSync(process.execPath, copy);
    chmodSync(copy, 0o755);
    const run = await runChild("exit_child.ts", {
      executable: copy,
      args: [fixturePath("exit_child.ts"), "runtime-removed"],
      env: handOffEnv(`${dir.path}/spool`, server.url(), "stranded?"),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(commands(server.events()), ["stranded?"], "delivered before the run ended");
    assert.deepEqual(spooled(`${dir.path}/spool`), []);
  } finally {
    await server.close();
  }
});

test(`${runtime}: a request that may take longer than a sender lives: the exit delivers in process`, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const run = await runChild("exit_child.ts", {
      args: ["natural"],
      env: handOffEnv(dir.path, server.url(), "patient", { NAT_TEST_OPTIONS: '{"requestTimeoutSeconds":20}' }),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(commands(server.events()), ["patient"], "delivered before the run ended");
    assert.deepEqual(senderLocks(dir.path), []);
  } finally {
    await server.close();
  }
});

test(`${runtime}: a damaged sender's script (cut short, emptied) is written again, and its sender delivers`, {
  skip: inContainer && "in a container, the exit delivers in process: there is no sender",
}, async () => {
  for (const size of [0, 30_000]) {
    using dir = tempDir();
    const server = await TestServer.start();
    try {
      writeFileSync(`${dir.path}/${SENDER_SCRIPT_NAME}`, senderScript().slice(0, size), { mode: 0o600 });
      const run = await runChild("exit_child.ts", {
        args: ["natural"],
        env: handOffEnv(dir.path, server.url(), "fixed"),
      });
      assert.equal(run.code, 0, run.stderr);
      await waitFor(() => server.events().length > 0, "the sender's delivery", 15_000);
      assert.deepEqual(commands(server.events()), ["fixed"]);
      assert.equal(readFileSync(`${dir.path}/${SENDER_SCRIPT_NAME}`, "utf8"), senderScript(), "written again whole");
      await sendersGone(dir.path);
    } finally {
      await server.close();
    }
  }
});

test(`${runtime}: in a container, under a wrapper (\`timeout 60 mycli\`), the exit delivers in process`, {
  skip: !canUnshare && "unshare --pid --fork --mount-proc is refused here",
}, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const program = [...runtimeCommand(fixturePath("exit_child.ts")), "natural"];
    const run = await runChild("exit_child.ts", {
      executable: "unshare",
      args: ["--pid", "--fork", "--mount-proc", "timeout", "60", ...program],
      env: handOffEnv(dir.path, server.url(), "contained"),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(commands(server.events()), ["contained"], "delivered before the container ended");
    assert.equal(existsSync(`${dir.path}/${SENDER_SCRIPT_NAME}`), false, "no hand-off was prepared");
  } finally {
    await server.close();
  }
});

test(
  `${runtime}: in a container, a run whose command exits from inside delivers what earlier runs spooled as it works`,
  {
    skip: !canUnshare && "unshare --pid --fork --mount-proc is refused here",
  },
  async () => {
    using dir = tempDir();
    const server = await TestServer.start();
    try {
      const inContainer = (mode: string, command: string) =>
        runChild("exit_child.ts", {
          executable: "unshare",
          args: ["--pid", "--fork", "--mount-proc", ...runtimeCommand(fixturePath("exit_child.ts")), mode],
          env: handOffEnv(dir.path, server.url(), command),
        });
      // process.exit() from inside the command: the exit is synchronous, and spools.
      assert.equal((await inContainer("track-exit", "earlier")).code, 4);
      assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["earlier"]);
      assert.deepEqual(server.events(), []);
      // The next run cannot start a sender either: it delivers the spool while its command works, then exits the same way.
      assert.equal((await inContainer("track-work-exit", "later")).code, 4);
      assert.deepEqual(commands(server.events()), ["earlier"], "delivered while the command worked");
      assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["later"]);
    } finally {
      await server.close();
    }
  },
);
