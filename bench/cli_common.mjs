/**
 * What the benchmarks' CLIs (`fake_cli.mjs`, `footprint_cli.mjs`) share: the
 * report of their own peak memory, and one event recorded with a peer,
 * posthog-node or @segment/analytics-node, the way its documentation shows
 * for a short-lived process.
 *
 * @module
 */
/**
 * What the CLIs use of their process: Deno's own APIs under Deno, `node:process` elsewhere. A Deno CLI does not load
 * Deno's Node.js layer (`node:process`, or a first read of `globalThis.process`: 11-20 ms and 7 MB), so neither does
 * the baseline here: what a client loads of it is the client's cost.
 */
export const cli = globalThis.Deno
  ? {
    args: () => Deno.args,
    env: (name) => Deno.env.get(name),
    onExit: (listener) => globalThis.addEventListener("unload", listener),
    writeStderr: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
    setExitCode: (code) => void (Deno.exitCode = code),
  }
  : {
    args: () => globalThis.process.argv.slice(2),
    env: (name) => globalThis.process.env[name],
    onExit: (listener) => globalThis.process.on("exit", listener),
    writeStderr: (text) => void globalThis.process.stderr.write(text),
    setExitCode: (code) => void (globalThis.process.exitCode = code),
  };

/**
 * Reads a file of `/proc` as text, as each runtime does; under Node.js and Bun `node:fs` is loaded at the first
 * read, at exit: the package's own use of it (~2 ms under Bun) must not be hidden by the CLI's.
 */
function readProc(path) {
  return globalThis.Deno
    ? Deno.readTextFileSync(path)
    : globalThis.process.getBuiltinModule("node:fs").readFileSync(path, "utf8");
}

/** The names in a directory of `/proc`, as each runtime lists them. */
function procEntries(path) {
  return globalThis.Deno
    ? [...Deno.readDirSync(path)].map(({ name }) => name)
    : globalThis.process.getBuiltinModule("node:fs").readdirSync(path);
}

/**
 * Loads the package as the benchmark built it: a `.cjs` build with `require`, as a CommonJS program (a `pkg` or
 * single executable one) loads it (importing it from an ES module would make Node scan it for its exports, with
 * a WebAssembly lexer a CommonJS program never loads), anything else with `import`.
 *
 * @param {string} path The module.
 */
export function loadPackage(path) {
  if (!path.endsWith(".cjs")) return import(path);
  const { createRequire } = globalThis.process.getBuiltinModule("node:module");
  return Promise.resolve(createRequire(import.meta.url)(path));
}

/**
 * At exit, writes this process's own peak resident memory on stderr (`maxrss_kb=`), and on Linux the CPU time
 * its threads have used (`cpu_us=`, from each thread's schedstat: exact, where `process.cpuUsage()` is not in
 * every runtime) and its private memory then (`private_kb=`: RssAnon, its anonymous pages, what only it holds;
 * the rest of RSS is files mapped from disk, above all the runtime's executable, whose pages each first use of one
 * of its features brings in: clean pages, which the kernel can drop and read again). On Linux, getrusage's maxRSS
 * survives exec, so a child would report its parent's size if that is larger: the address space's own high-water
 * mark (VmHWM) is read instead.
 */
export function reportPeakMemory() {
  cli.onExit(() => {
    try {
      const ns = procEntries("/proc/self/task").reduce(
        (sum, task) => sum + Number(readProc(`/proc/self/task/${task}/schedstat`).split(" ")[0]),
        0,
      );
      cli.writeStderr(`cpu_us=${Math.round(ns / 1000)}\n`);
    } catch {
      // Not Linux: no CPU time.
    }
    let kb = globalThis.Deno ? 0 : globalThis.process.resourceUsage().maxRSS;
    try {
      const status = readProc("/proc/self/status");
      kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? kb);
      const anonymous = /RssAnon:\s+(\d+)/.exec(status)?.[1];
      if (anonymous !== undefined) cli.writeStderr(`private_kb=${anonymous}\n`);
    } catch {
      // Not Linux: maxRSS it is (none under Deno), and no private memory.
    }
    cli.writeStderr(`maxrss_kb=${kb}\n`);
  });
}

/**
 * Records one `cli_command` event with a peer, and flushes it.
 *
 * @param {"posthog" | "segment"} peer The peer.
 * @param {string} endpoint Where it sends.
 * @param {() => void} [done] Called once the event is recorded, before the final flush.
 */
export async function recordWithPeer(peer, endpoint, done = () => {}) {
  const properties = { command: "bench" };
  if (peer === "posthog") {
    const { PostHog } = await import("posthog-node");
    const posthog = new PostHog("phc_bench", {
      host: new URL(endpoint).origin,
      flushAt: 1,
      flushInterval: 0,
    });
    posthog.capture({ distinctId: "bench", event: "cli_command", properties });
    done();
    await posthog.shutdown();
  } else {
    const { Analytics } = await import("@segment/analytics-node");
    const analytics = new Analytics({
      writeKey: "bench",
      host: new URL(endpoint).origin,
      maxEventsInBatch: 1,
    });
    analytics.track({ userId: "bench", event: "cli_command", properties });
    done();
    await analytics.closeAndFlush();
  }
}

/**
 * Starts a process in a session of its own, its output ignored, and does not wait for it: what the hand-off does
 * to start its sender, with each runtime's own API (Deno's `Deno.Command`, Bun's `Bun.spawn`, Node.js's
 * `child_process`). Under Deno, as the hand-off does, through `setsid` where there is one (Deno's `detached`
 * forks the program).
 *
 * @param {string} executable The program.
 * @param {string[]} [args] Its arguments.
 */
export function startProcess(executable, args = []) {
  if (globalThis.Deno) {
    const isFile = (path) => {
      try {
        return Deno.lstatSync(path).isFile;
      } catch {
        return false;
      }
    };
    const setsid = ["/usr/bin/setsid", "/bin/setsid"].find(isFile);
    const [command, ...rest] = setsid ? [setsid, executable, ...args] : [executable, ...args];
    const output = { stdin: "null", stdout: "null", stderr: "null" };
    new Deno.Command(command, { args: rest, ...output, detached: !setsid }).spawn().unref();
    return;
  }
  if (globalThis.Bun) {
    Bun.spawn([executable, ...args], { stdio: ["ignore", "ignore", "ignore"], detached: true }).unref();
    return;
  }
  const { spawn } = globalThis.process.getBuiltinModule("node:child_process");
  spawn(executable, args, { detached: true, stdio: "ignore" }).unref();
}

/**
 * Makes the first call of each runtime API a run of the package makes to record a command and spool it (the
 * endpoint down: no sender), in the order a run first makes them, without the package: what the runtime charges
 * any client for the same work in a fresh process (under Node.js and Bun, loading `node:fs` included).
 *
 * @param {string} dir A private directory to write a file in.
 */
export function firstCalls(dir) {
  const deno = globalThis.Deno;
  const listener = () => {};
  if (deno) {
    const file = `${dir}/probe-${deno.pid}`;
    deno.env.get("NAT_TELEMETRY_ENABLED");
    deno.permissions.querySync({ name: "read", path: dir });
    deno.uid();
    deno.addSignalListener("SIGINT", listener);
    deno.removeSignalListener("SIGINT", listener);
    globalThis.addEventListener("unload", listener);
    void new URL("http://127.0.0.1:9/v1.1/events/json").host;
    deno.lstatSync(dir);
    void [...deno.readDirSync(dir)];
    const opened = deno.openSync("/proc/self/stat");
    opened.statSync();
    opened.readSync(new Uint8Array(4096));
    opened.close();
    new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([104, 105]));
    deno.readLinkSync("/proc/self/ns/pid");
    const created = deno.openSync(file, { write: true, createNew: true, mode: 0o600 });
    created.writeSync(new TextEncoder().encode("{}\n"));
    created.close();
    deno.renameSync(file, `${file}.moved`);
    deno.removeSync(`${file}.moved`);
    return;
  }
  const { process } = globalThis;
  const file = `${dir}/probe-${process.pid}`;
  void process.env.NAT_TELEMETRY_ENABLED;
  process.on("SIGINT", listener);
  process.off("SIGINT", listener);
  process.on("exit", listener);
  void new URL("http://127.0.0.1:9/v1.1/events/json").host;
  const fs = process.getBuiltinModule("node:fs");
  fs.lstatSync(dir);
  fs.readdirSync(dir);
  const read = fs.openSync("/proc/self/stat", fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  fs.fstatSync(read);
  fs.readSync(read, new Uint8Array(4096), 0, 4096, null);
  fs.closeSync(read);
  process.getBuiltinModule("node:buffer").isUtf8(new Uint8Array([104, 105]));
  fs.readlinkSync("/proc/self/ns/pid");
  const written = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  fs.writeSync(written, Buffer.from("{}\n"));
  fs.closeSync(written);
  fs.renameSync(file, `${file}.moved`);
  fs.unlinkSync(`${file}.moved`);
}
