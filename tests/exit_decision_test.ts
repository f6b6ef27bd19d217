/**
 * Where the exit may hand off, and how the sender is started: the survival
 * checks (PID 1, a container init, a systemd service), what each runtime
 * refuses (a `deno compile` executable, a Node.js single executable
 * application, no permission to start processes), the command and its clean
 * environment. The hosts take their runtime object as a parameter, so every
 * runtime runs every case, on objects that differ from the real one only in
 * what a case sets.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { denoHost, type DenoNamespace } from "../src/runtime/deno.ts";
import { type BunSpawn, nodeHost, type NodeProcess } from "../src/runtime/node.ts";
import { type ProcessFacts, survivalProblem } from "../src/runtime/survival.ts";
import { absolutePath, SENDER_VARIABLES, senderEnvironment } from "../src/runtime/clean_environment.ts";
import { processWith } from "./helpers/node_process.ts";
import type { SenderGrant, SpawnCommand } from "../src/runtime/mod.ts";

const facts = (overrides: Partial<ProcessFacts> = {}): ProcessFacts => ({
  pid: 4242,
  ppid: 4000,
  os: "linux",
  env: () => undefined,
  read: () => undefined,
  pidNamespace: "pid:[4026531836]",
  ...overrides,
});

describe("survivalProblem", () => {
  it("refuses a PID namespace other than the host's (a container), whatever the process's place in it", () => {
    const container = { pidNamespace: "pid:[4026532178]" };
    assert.match(survivalProblem(facts({ ...container, pid: 1, ppid: 0 }))!, /PID namespace of its own/);
    assert.match(survivalProblem(facts({ ...container, pid: 7, ppid: 3 }))!, /PID namespace of its own/, "wrapped");
  });
  it("refuses PID 1 of a PID namespace (a container's main process) where the namespace cannot be read", () => {
    assert.match(survivalProblem(facts({ pid: 1, ppid: 0, pidNamespace: undefined }))!, /PID 1 of its PID namespace/);
    assert.match(survivalProblem(facts({ pid: 1, ppid: 0, os: "darwin", pidNamespace: undefined }))!, /PID 1/);
  });
  it("refuses a wrapped process in a container where the namespace cannot be read (Deno short of -A)", () => {
    const wrapped = { pid: 7, ppid: 3, pidNamespace: undefined };
    assert.equal(survivalProblem(facts(wrapped)), undefined, "no mark of a container");
    for (const name of ["container", "KUBERNETES_SERVICE_HOST"]) {
      const env = (asked: string) => asked === name ? "podman" : undefined;
      assert.ok(
        survivalProblem(facts({ ...wrapped, env }))?.startsWith(`the variable '${name}' says it runs in a container`),
        name,
      );
    }
    // Where the namespace is known, it alone tells (the host's: no container, whatever a variable says).
    const env = (asked: string) => asked === "container" ? "podman" : undefined;
    assert.equal(survivalProblem(facts({ pid: 7, ppid: 3, env })), undefined);
    assert.equal(survivalProblem(facts({ ...wrapped, env, os: "darwin" })), undefined, "no containers there");
  });
  it("refuses a process whose parent is PID 1 (tini, docker-init, a service manager)", () => {
    assert.match(survivalProblem(facts({ ppid: 1 }))!, /parent is PID 1/);
    assert.match(survivalProblem(facts({ ppid: 1, os: "darwin" }))!, /parent is PID 1/, "launchd on macOS");
  });
  it("refuses a systemd service (cgroup v2 and v1), but not a terminal's scope", () => {
    const env = (name: string) => name === "INVOCATION_ID" ? "0123" : undefined;
    const v2 = "0::/system.slice/mycli.service\n";
    const v1 = "12:pids:/\n1:name=systemd:/system.slice/mycli.service\n";
    const scope = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/vte-spawn-1.scope\n";
    assert.match(survivalProblem(facts({ env, read: () => v2 }))!, /systemd service/);
    assert.match(survivalProblem(facts({ env, read: () => v1 }))!, /systemd service/);
    assert.match(survivalProblem(facts({ env, read: () => undefined }))!, /systemd service/, "cgroup unreadable");
    assert.equal(survivalProblem(facts({ env, read: () => scope })), undefined);
    assert.equal(survivalProblem(facts({ read: () => v2 })), undefined, "no INVOCATION_ID: not a service");
  });
  it("accepts an ordinary process, and checks nothing on Windows", () => {
    assert.equal(survivalProblem(facts()), undefined);
    assert.equal(survivalProblem(facts({ os: "win32", pid: 1, ppid: 1 })), undefined);
  });
});

describe("senderEnvironment", () => {
  it("keeps only the variables a sender needs: never the program's runtime flags", () => {
    const parent: Record<string, string> = {
      HOME: "/home/ada",
      HTTPS_PROXY: "http://proxy:3128",
      NODE_OPTIONS: "--inspect-brk",
      BUN_OPTIONS: "--hot",
      DENO_V8_FLAGS: "--expose-gc",
      NAT_TELEMETRY_SENDER: "stray",
      AWS_SECRET_ACCESS_KEY: "secret",
    };
    const env = senderEnvironment((name) => parent[name], { NAT_TELEMETRY_SENDER: "{}" }, "/work");
    assert.deepEqual(env, { HOME: "/home/ada", HTTPS_PROXY: "http://proxy:3128", NAT_TELEMETRY_SENDER: "{}" });
    assert.ok(!SENDER_VARIABLES.some((name) => /OPTIONS|FLAGS/.test(name)));
  });
  it("drops HTTP_PROXY in a CGI program, where a request's Proxy: header may have set it, and says it is one", () => {
    // REQUEST_METHOD goes along: the sender reads the proxy variables as the program does (Deno ignores http_proxy too).
    for (const method of ["GET", ""]) {
      const parent: Record<string, string> = { REQUEST_METHOD: method, HTTP_PROXY: "http://evil:1", http_proxy: "p:2" };
      assert.deepEqual(senderEnvironment((name) => parent[name], {}, "/work"), {
        http_proxy: "p:2",
        REQUEST_METHOD: method,
      });
    }
  });
  it("makes the paths it passes on absolute against the program's directory: the sender runs in the spool's", () => {
    const parent: Record<string, string> = {
      NODE_EXTRA_CA_CERTS: "tls/ca.pem",
      DENO_CERT: "../ca.pem",
      SSL_CERT_FILE: "/etc/ssl/ca.pem",
      SSL_CERT_DIR: "certs:/etc/ssl/certs",
      NAT_TELEMETRY_CONSENT_FILE: "telemetry.toml",
      DENO_DIR: "",
      HTTPS_PROXY: "proxy:3128",
    };
    assert.deepEqual(senderEnvironment((name) => parent[name], {}, "/work/app/"), {
      NODE_EXTRA_CA_CERTS: "/work/app/tls/ca.pem",
      DENO_CERT: "/work/app/../ca.pem",
      SSL_CERT_FILE: "/etc/ssl/ca.pem",
      SSL_CERT_DIR: "/work/app/certs:/etc/ssl/certs",
      NAT_TELEMETRY_CONSENT_FILE: "/work/app/telemetry.toml",
      DENO_DIR: "",
      HTTPS_PROXY: "proxy:3128",
    });
    assert.deepEqual(senderEnvironment((name) => parent[name], {}, undefined), parent, "unknown: left as they are");
    // A path the program sets for its sender too: the consent file where it leads, named bare in the program's dir.
    const set = { NAT_TELEMETRY_CONSENT_FILE: "telemetry.toml", NAT_TELEMETRY_SENDER: "{}" };
    assert.deepEqual(senderEnvironment(() => undefined, set, "/work/app"), {
      NAT_TELEMETRY_CONSENT_FILE: "/work/app/telemetry.toml",
      NAT_TELEMETRY_SENDER: "{}",
    });
    assert.equal(absolutePath("C:\\certs\\ca.pem", "D:\\work"), "C:\\certs\\ca.pem");
    assert.equal(absolutePath("ca.pem", "/"), "/ca.pem");
    assert.equal(absolutePath("C:ca.pem", "C:\\proj"), "C:ca.pem", "relative to its drive's own directory: left");
    assert.equal(absolutePath("C:ca.pem", "/work"), "/work/C:ca.pem", "elsewhere, a name like any other");
    assert.equal(absolutePath("\\ca.pem", "/work"), "/work/\\ca.pem");
    const windows: Record<string, string> = { SSL_CERT_DIR: "C:\\certs;more" };
    assert.deepEqual(senderEnvironment((name) => windows[name], {}, "\\\\server\\share\\proj"), {
      SSL_CERT_DIR: "C:\\certs;\\\\server\\share\\proj/more",
    });
  });
});

const grant: SenderGrant = {
  endpoint: "https://telemetry.example.com:8443/v1/events",
  dir: "/home/ada/.local/state/nat/telemetry",
  reads: ["/home/ada/.config/nat/telemetry.toml"],
  variables: ["NAT_TELEMETRY_SENDER", "HOME"],
  set: { NAT_TELEMETRY_SENDER: "{}" },
};
const script = `${grant.dir}/sender-0123abcd.mjs`;

/** The real `process`, with some members replaced, and a parent and an id of its own. */
function nodeProcess(overrides: Record<string, unknown>): NodeProcess {
  return processWith({ ppid: 4000, pid: 4242, ...overrides });
}

function refusal(command: SpawnCommand | { refused: string }): string | undefined {
  return "refused" in command ? command.refused : undefined;
}

describe("the Node.js and Bun host's interrupt listeners", () => {
  const listened = (overrides: Record<string, unknown>) => {
    const signals: string[] = [];
    // As Node.js (which never keeps an ignored signal ignored): this process's own dispositions do not matter.
    const versions = { node: "24.9.0" };
    const proc = nodeProcess({ on: (signal: string) => signals.push(signal), versions, ...overrides });
    nodeHost(proc, { lightFetch: false }).onInterrupt(() => {})();
    return signals.filter((signal) => signal.startsWith("SIG"));
  };
  it("listens for SIGINT and SIGTERM, except as a container's PID 1, which no signal without a listener ends", () => {
    assert.deepEqual(listened({}), ["SIGINT", "SIGTERM"]);
    assert.deepEqual(listened({ pid: 1 }), [], "a listener would record an end that does not come");
  });
  it("where the program's process.on refuses one signal, listens for none: no signal is left caught for nothing", () => {
    const listening = new Set<string>();
    const proc = nodeProcess({
      versions: { node: "24.9.0" },
      on: (signal: string) => {
        if (signal === "SIGTERM") throw new Error("a program's process.on that refuses SIGTERM");
        listening.add(signal);
      },
      removeListener: (signal: string) => listening.delete(signal),
    });
    assert.throws(() => nodeHost(proc, { lightFetch: false }).onInterrupt(() => {}), /refuses SIGTERM/);
    assert.deepEqual([...listening], []);
  });
});

describe("the Node.js and Bun host's sender command", () => {
  const load = (sea: boolean) => (name: string) =>
    name === "node:sea" ? { isSea: () => sea } : process.getBuiltinModule?.(name as "node:fs");
  it("runs the script with the program's runtime, in the spool directory, in a clean environment", () => {
    const proc = nodeProcess({
      getBuiltinModule: load(false),
      execPath: "/usr/bin/node",
      execArgv: [],
      argv: ["/usr/bin/node", "/app/cli.mjs"],
      versions: { node: "24.9.0" },
      env: { HOME: "/home/ada", NODE_OPTIONS: "--inspect-brk", NAT_TELEMETRY_SENDER: "stray" },
    });
    const command = nodeHost(proc, { lightFetch: true }).senderCommand(script, grant) as SpawnCommand;
    assert.deepEqual(command, {
      argv: ["/usr/bin/node", script],
      env: { HOME: "/home/ada", NAT_TELEMETRY_SENDER: "{}" },
      cwd: grant.dir,
    });
  });
  it("passes on the program's TLS trust flags (command line and NODE_OPTIONS), and nothing else of them", () => {
    const proc = nodeProcess({
      getBuiltinModule: load(false),
      execPath: "/usr/bin/node",
      execArgv: ["--use-openssl-ca", "--inspect", "--max-old-space-size=64"],
      versions: { node: "24.9.0" },
      env: { NODE_OPTIONS: "--tls-min-v1.3 --require ./hook.cjs", SSL_CERT_FILE: "/etc/corp/ca.pem" },
    });
    const command = nodeHost(proc, { lightFetch: true }).senderCommand(script, grant) as SpawnCommand;
    assert.deepEqual(command.argv, ["/usr/bin/node", "--tls-min-v1.3", "--use-openssl-ca", script]);
    assert.equal(command.env.SSL_CERT_FILE, "/etc/corp/ca.pem");
  });
  it("reads the trust flags as Node.js does: quotes, a value in the next argument, `_`, `--no-`, the last word", () => {
    const command = (execArgv: string[], NODE_OPTIONS: string) => {
      const proc = nodeProcess({
        getBuiltinModule: load(false),
        execPath: "/usr/bin/node",
        execArgv,
        versions: { node: "24.9.0" },
        env: { NODE_OPTIONS },
      });
      return (nodeHost(proc, { lightFetch: true }).senderCommand(script, grant) as SpawnCommand).argv.slice(1, -1);
    };
    const ciphers = "ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256";
    assert.deepEqual(command([], `--tls-cipher-list="${ciphers}" --require "./a b.cjs"`), [
      `--tls-cipher-list=${ciphers}`,
    ]);
    assert.deepEqual(command(["--tls-cipher-list", ciphers], ""), [`--tls-cipher-list=${ciphers}`]);
    assert.deepEqual(
      command(["--no-use-system-ca"], "--use-system-ca"),
      ["--no-use-system-ca"],
      "the command line wins",
    );
    assert.deepEqual(command(["--no-use-system-ca=1"], "--use-system-ca=true --tls-min-v1.3=false"), [
      "--no-use-system-ca",
      "--tls-min-v1.3",
    ], "a switch given a value is set, as Node.js reads it");
    assert.deepEqual(command(["--tls_min_v1.3", "--openssl-config=/etc/a.cnf"], "--openssl-config=/etc/b.cnf"), [
      "--openssl-config=/etc/a.cnf",
      "--tls-min-v1.3",
    ]);
    assert.deepEqual(command([], '--title="x \\" --use-openssl-ca" --inspect'), [], "a quoted word is one word");
  });
  it("makes a Bun executable a `bun` with BUN_BE_BUN, whatever the program did to its arguments", () => {
    const proc = nodeProcess({
      getBuiltinModule: load(false),
      execPath: "/usr/local/bin/mycli",
      argv: ["mycli", "usage-name"], // rewritten by the program
      versions: { ...process.versions, bun: "1.4.5" },
      env: {},
    });
    const command = nodeHost(proc, { lightFetch: false }).senderCommand(script, grant) as SpawnCommand;
    assert.deepEqual([command.argv, command.env.BUN_BE_BUN], [["/usr/local/bin/mycli", script], "1"]);
    assert.equal(command.env.BUN_RUNTIME_TRANSPILER_CACHE_PATH, "0", "no cache written outside the spool");
  });
  it("under Bun starts the sender with Bun's own spawn: detached, the whole environment its own; never throws", () => {
    const calls: unknown[][] = [];
    const command: SpawnCommand = { argv: ["/usr/local/bin/bun", script], env: { HOME: "/home/ada" }, cwd: grant.dir };
    const bunHost = (spawn: BunSpawn) => nodeHost(nodeProcess({}), { lightFetch: false, bunSpawn: spawn });
    const started = bunHost((...args) => {
      calls.push(args);
      return { pid: 4343, unref: () => calls.push(["unref"]) };
    }).spawnDetached(command);
    assert.equal(started, "started");
    assert.deepEqual(calls, [
      [command.argv, {
        detached: true,
        stdio: ["ignore", "ignore", "ignore"],
        windowsHide: true,
        env: command.env,
        cwd: grant.dir,
      }],
      ["unref"],
    ]);
    const missing = bunHost(() => {
      throw Object.assign(new Error("ENOENT: no such file or directory, posix_spawn"), { code: "ENOENT" });
    });
    assert.equal(missing.spawnDetached(command), "failed", "an executable that is not there");
    const exhausted = bunHost(() => {
      throw Object.assign(new Error("EAGAIN: resource temporarily unavailable, posix_spawn"), { code: "EAGAIN" });
    });
    assert.equal(exhausted.spawnDetached(command), "no processes", "no processes left (ulimit -u)");
  });
  it("refuses a single executable application, pkg, Electron, and --permission without child processes", () => {
    const refused = (overrides: Record<string, unknown>) => {
      const host = nodeHost(nodeProcess({ getBuiltinModule: load(false), ...overrides }), { lightFetch: false });
      const reason = refusal(host.senderCommand(script, grant));
      assert.equal(host.senderRefusal(grant), reason, "senderRefusal says what senderCommand says, command or not");
      return reason;
    };
    assert.match(refused({ getBuiltinModule: load(true) })!, /single executable application/);
    assert.match(refused({ pkg: {} })!, /pkg/);
    assert.match(refused({ versions: { ...process.versions, electron: "39.0.0" } })!, /Electron/);
    assert.match(refused({ permission: { has: (scope: string) => scope !== "child" } })!, /--allow-child-process/);
    const permitted = (...execArgv: string[]) => refused({ permission: { has: () => true }, execArgv });
    assert.equal(permitted("--permission", "--allow-fs-read=*", "--allow-fs-write=/home/ada/*"), undefined);
    assert.equal(permitted("--experimental-permission", "--allow-fs-write=/home/ada/*"), undefined);
    // Node.js passes command-line permission flags on to the sender unquoted, and those of NODE_OPTIONS not at all.
    assert.match(permitted()!, /given in NODE_OPTIONS/);
    const split = refused({
      permission: { has: () => true },
      execArgv: ["--permission", "--allow-fs-read=*"],
      env: { NODE_OPTIONS: "--allow-fs-write=/home/ada/*" },
    });
    assert.match(split!, /given in NODE_OPTIONS/, "a grant in NODE_OPTIONS beside the command line's flags");
    const underscored = ["--allow_fs_write=/home/ada/*"];
    assert.match(permitted("--experimental-config-file=node.config.json", "--permission")!, /a configuration file/);
    for (
      const grant of [["--allow-fs-read=rel/*"], ["--allow-fs-read=/a b/*"], ["--allow-fs-read", "/srv/*"], underscored]
    ) {
      assert.match(permitted("--permission", ...grant)!, /--permission flags its sender would not get/, `${grant}`);
    }
    assert.match(refused({ pid: 1, ppid: 0 })!, /PID 1/);
  });
});

/** A Deno namespace for the host: permissions as given, the rest inert. */
function denoNamespace(
  options: { standalone?: boolean; granted?: (name: string, detail?: string) => boolean | "denied"; files?: Files },
) {
  const granted = options.granted ?? (() => true);
  const NotFound = class extends Error {};
  return {
    build: { os: "linux", standalone: options.standalone ?? false },
    pid: 4242,
    ppid: 4000,
    execPath: () => "/usr/local/bin/deno",
    permissions: {
      querySync: (descriptor: { name: string; command?: string; host?: string; path?: string }) => {
        const answer = granted(descriptor.name, descriptor.command ?? descriptor.host ?? descriptor.path);
        return { state: answer === "denied" ? "denied" : answer ? "granted" : "prompt" };
      },
    },
    env: {
      get: (name: string) => ({ HOME: "/home/ada", DENO_V8_FLAGS: "--expose-gc" } as Record<string, string>)[name],
    },
    uid: () => 1000,
    errors: { NotFound },
    /** The files named, nothing else. */
    lstatSync: (path: string) => {
      const file = options.files?.[path];
      if (!file) throw new NotFound(path);
      return {
        isFile: file.kind === "file",
        isSymlink: file.kind === "symlink",
        isDirectory: false,
        ...file,
      };
    },
    addSignalListener() {},
    removeSignalListener() {},
  } as unknown as DenoNamespace;
}

/** Files a fake Deno namespace has: kind, owner, size. */
type Files = Record<string, { kind: "file" | "symlink"; uid: number; mode: number; size: number }>;

describe("the Deno host's sender command", () => {
  it("leaves the session with root's setsid(1) where there is one, and is then started as any child", () => {
    const setsid = { kind: "file", uid: 0, mode: 0o755, size: 14648 } as const;
    const command = denoHost(denoNamespace({ files: { "/usr/bin/setsid": setsid } }))
      .senderCommand(script, grant) as SpawnCommand;
    const [leave, shell, , , name, deno] = command.argv;
    assert.deepEqual([leave, shell, name, deno], [
      "/usr/bin/setsid",
      "/bin/sh",
      "nat-telemetry-sender",
      "/usr/local/bin/deno",
    ]);
    assert.equal(command.leavesSession, true);
    assert.ok(command.argv.includes("--allow-run=/usr/bin/setsid,/bin/sh,/usr/local/bin/deno"), "its successor too");
    assert.ok(command.argv.includes("--no-code-cache"), "no compiled code written outside the spool");
    const atBin = denoHost(denoNamespace({ files: { "/bin/setsid": setsid } })).senderCommand(script, grant);
    assert.equal((atBin as SpawnCommand).argv[0], "/bin/setsid");
    // Deno's own detached start (a fork of the program) where setsid(1) is missing, empty, not root's, writable by
    // others, a link (busybox), not granted (run or read), or denied (run or read) at either path.
    const both = { "/usr/bin/setsid": setsid, "/bin/setsid": setsid };
    for (
      const namespace of [
        denoNamespace({}),
        denoNamespace({ files: { "/usr/bin/setsid": { ...setsid, size: 0 } } }),
        denoNamespace({ files: { "/usr/bin/setsid": { ...setsid, uid: 1000 } } }),
        denoNamespace({ files: { "/usr/bin/setsid": { ...setsid, mode: 0o777 } } }),
        denoNamespace({ files: { "/usr/bin/setsid": { ...setsid, mode: 0o775 } } }),
        denoNamespace({ files: { "/bin/setsid": { ...setsid, kind: "symlink" } } }),
        denoNamespace({ files: both, granted: (name, detail) => name !== "run" || !detail?.endsWith("setsid") }),
        denoNamespace({ files: both, granted: (name, detail) => name !== "read" || !detail?.endsWith("setsid") }),
        denoNamespace({ files: both, granted: (_, detail) => detail === "/bin/setsid" ? "denied" : true }),
        denoNamespace({
          files: both,
          granted: (name, detail) => name === "run" && detail === "/usr/bin/setsid" ? "denied" : true,
        }),
        denoNamespace({
          files: both,
          granted: (name, detail) => name === "read" && detail === "/usr/bin/setsid" ? "denied" : true,
        }),
      ]
    ) {
      const fallback = denoHost(namespace).senderCommand(script, grant) as SpawnCommand;
      assert.deepEqual(fallback.argv.slice(0, 1), ["/bin/sh"]);
      assert.equal(fallback.leavesSession, undefined);
      assert.ok(fallback.argv.includes("--allow-run=/bin/sh,/usr/local/bin/deno"));
    }
  });
  it("starts Deno through /bin/sh, which closes inherited descriptors, with only the permissions it needs", () => {
    const command = denoHost(denoNamespace({ granted: (name, detail) => name !== "net" || detail !== undefined }))
      .senderCommand(script, grant) as SpawnCommand;
    const [shell, dashC, closer, name, deno, ...args] = command.argv;
    assert.deepEqual([shell, dashC, name, deno], ["/bin/sh", "-c", "nat-telemetry-sender", "/usr/local/bin/deno"]);
    assert.match(closer, /^exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; exec "\$@"$/);
    assert.equal(args[0], "run");
    assert.ok(args.includes("--no-prompt") && args.includes("--no-config"));
    assert.ok(args.includes("--allow-net=telemetry.example.com:8443"), "the endpoint's host only");
    // And the files it runs, which it looks at before it starts its successor, and its own limits (a write past its
    // file size limit would end it).
    const read = `--allow-read=${grant.dir},${grant.reads[0]},/bin/sh,/usr/local/bin/deno,/proc/self/limits`;
    assert.ok(args.includes(read), `${args}`);
    assert.ok(args.includes(`--allow-write=${grant.dir}`));
    assert.ok(args.includes("--allow-env=NAT_TELEMETRY_SENDER,HOME"));
    assert.equal(args.at(-1), script);
    assert.deepEqual(command.env.HOME, "/home/ada");
    assert.equal(command.env.DENO_V8_FLAGS, undefined, "no runtime flags inherited");
    assert.equal(command.cwd, grant.dir);
  });
  it("names the endpoint's default port, as `--allow-net=host:443` grants it", () => {
    const endpoint = "https://telemetry.example.com/v1/events";
    for (const allowed of ["telemetry.example.com:443", "telemetry.example.com"]) {
      // Deno answers for `host` only where the flag named no port; `host:443` is granted by either flag.
      const matches = (detail?: string) => detail === allowed || detail === `${allowed.split(":")[0]}:443`;
      const host = denoHost(denoNamespace({ granted: (name, detail) => name !== "net" || matches(detail) }));
      assert.equal(host.canConnect(endpoint), true, `--allow-net=${allowed}`);
      const command = host.senderCommand(script, { ...grant, endpoint }) as SpawnCommand;
      assert.ok(command.argv.includes("--allow-net=telemetry.example.com:443"), "the port written out");
    }
    const plain = denoHost(denoNamespace({ granted: (name, detail) => name !== "net" || detail === "example.com:80" }));
    assert.equal(plain.canConnect("http://example.com/v1"), true, "port 80 for http");
  });
  it("grants every host where the program may reach every host (a redirect it would follow)", () => {
    const command = denoHost(denoNamespace({})).senderCommand(script, grant) as SpawnCommand;
    assert.ok(command.argv.includes("--allow-net"));
  });
  it("refuses a deno compile executable, a path with a comma, and missing run permissions", () => {
    const refused = (namespace: DenoNamespace, forGrant = grant) => {
      const host = denoHost(namespace);
      const reason = refusal(host.senderCommand(script, forGrant));
      assert.equal(host.senderRefusal(forGrant), reason, "senderRefusal says what senderCommand says, command or not");
      return reason;
    };
    assert.equal(refused(denoNamespace({})), undefined);
    assert.match(refused(denoNamespace({ standalone: true }))!, /deno compile/);
    assert.match(refused(denoNamespace({}), { ...grant, dir: "/tmp/a,b" })!, /comma/);
    const noRun = denoNamespace({ granted: (name) => name !== "run" });
    assert.match(refused(noRun)!, /--allow-run/);
    const noShell = denoNamespace({ granted: (name, detail) => name !== "run" || detail !== "/bin/sh" });
    assert.match(refused(noShell)!, /--allow-run=\/bin\/sh/);
  });
});
