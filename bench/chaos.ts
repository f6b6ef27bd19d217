/**
 * Chaos: does every event arrive exactly once when thousands of short CLI
 * runs hand their events off to senders while the endpoint misbehaves and
 * processes die? Run by hand (not in CI) with `deno task bench:chaos`
 * (`-- --runs N --workers N --runtime node|deno|bun`; defaults 2,000 runs, 8
 * workers, node; `--forget-health` removes the endpoint's recorded failures
 * at every change of behaviour, as if each wait had passed, so that runs and
 * senders meet every behaviour instead of waiting out the circuit;
 * `--keep-all` raises the runs' spool bounds and retry limit, so that no
 * event is dropped by design and every event lost is a defect).
 *
 * What it does:
 *
 * - runs `chaos_cli.mjs` (one event per run, with a unique `id` parameter)
 *   `--runs` times across `--workers` parallel workers, all sharing one spool
 *   directory and one endpoint, under the chosen runtime: Deno from `mod.ts`,
 *   Node.js and Bun from the package laid out as JSR's npm layer serves it;
 *   the runs take the exit path users get (the hand-off to a sender, unless
 *   the exit strategy decides otherwise), with the debug trail on;
 * - serves the endpoint itself, on raw TCP, flapping every 2-5 s between
 *   healthy, slow (200 after 300 ms), silent (accepts, never answers), 503
 *   with `Retry-After` and refused (nothing listens on the port). For every
 *   request it records the events it carried and whether the connection
 *   closed before the answer was written (a "cut" request);
 * - kills 5 % of the programs (at a random moment of their run) and 5 % of
 *   the senders (found by scanning /proc for `NAT_TELEMETRY_SENDER=` naming
 *   this spool in their environment; at a random moment after they appear)
 *   with SIGKILL;
 * - samples /proc every 100 ms: the age of every process of ours (programs
 *   and senders, from their start times in /proc/<pid>/stat) and the number
 *   of senders alive;
 * - then recovers: the endpoint healthy for good, `src/cli.ts flush` (which
 *   forgets the endpoint's recorded failures and delivers what is spooled) until
 *   nothing of the endpoint's is left unclaimed, and a bounded wait until no
 *   sender is alive and the spool is empty.
 *
 * The package and the CLI are copied into a temporary directory first, so
 * that edits to the working tree during the runs do not change what is
 * measured; the report names the commit (and says whether `mod.ts` or
 * `src/` had uncommitted changes).
 *
 * The report (markdown on stdout, progress on stderr): what the programs
 * counted (`stats()`, and the trail's word on how each exit went), the
 * events received, distinct and duplicated (a duplicate is explained only
 * when the copy before it came in a cut request: the server got it, the
 * client never had the answer), the events lost (recorded by a program that
 * was not killed, never received), the oldest process of ours seen (a sender
 * must not outlive 15 s) and the peak number of senders alive at once. Any
 * unexplained duplicate, lost event, process older than 15 s or crashed
 * program is listed with its details.
 *
 * @module
 */
import type { TelemetryStats } from "../mod.ts";
import { parseArgs } from "node:util";
import { benchArgs, benchDir, median, npmLayout, root, runtimes } from "./common.ts";

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    runs: { type: "string", default: "2000" },
    workers: { type: "string", default: "8" },
    runtime: { type: "string", default: "node" },
    "forget-health": { type: "boolean", default: false },
    "keep-all": { type: "boolean", default: false },
  },
});
const RUNS = Number(values.runs);
const WORKERS = Number(values.workers);
const RUNTIME = values.runtime as "node" | "deno" | "bun";
/** Forget the endpoint's recorded failures at every change of behaviour, so that runs probe every phase. */
const FORGET_HEALTH = values["forget-health"];
/**
 * Raise the runs' (and so their senders') spool bounds and retry limit, so that nothing is dropped by design
 * (`spool_full`, `retries_exhausted`): then every event lost is a defect.
 */
const KEEP_ALL = values["keep-all"];
const KEEP_ALL_OPTIONS = {
  spoolMaxEvents: 1_000_000,
  spoolMaxBytes: 1 << 30,
  maxRetries: 1_000_000,
};
if (!Number.isSafeInteger(RUNS) || RUNS < 1) {
  throw new RangeError(`--runs must be a positive integer, got ${values.runs}`);
}
if (!Number.isSafeInteger(WORKERS) || WORKERS < 1) {
  throw new RangeError(
    `--workers must be a positive integer, got ${values.workers}`,
  );
}
if (!["node", "deno", "bun"].includes(RUNTIME)) {
  throw new RangeError(
    `--runtime must be node, deno or bun, got ${values.runtime}`,
  );
}

/** The share of programs, and of senders, killed with SIGKILL. */
const KILL_SHARE = 0.05;
/** How long the endpoint keeps one behaviour: a random time in this range. */
const PHASE_MS: readonly [number, number] = [2_000, 5_000];
/** The slow endpoint's delay. */
const SLOW_MS = 300;
/** What the 503 answers say in `Retry-After`, in seconds. */
const RETRY_AFTER_SECONDS = 5;
/** How often /proc is sampled. */
const SAMPLE_MS = 100;
/** The longest a sender may live. */
const SENDER_LIMIT_S = 15;
/** A sender is killed at a random moment within this long after it is first seen. */
const SENDER_KILL_WINDOW_MS = 800;
/** The recovery's bound: flushes and the wait for a quiet spool. */
const RECOVERY_MS = 120_000;
/** The recovery's last wait, for no sender and nothing unclaimed. */
const QUIET_MS = 30_000;
/** The clock ticks per second of /proc/<pid>/stat start times (`getconf CLK_TCK`, 100 on Linux). */
const CLOCK_TICKS = 100;
/** A kill within this long before a connection closed is taken as its cause. */
const KILL_CAUSE_MS = 300;
/** How often the benchmark checks that its own event loop, which serves the endpoint, runs. */
const STALL_CHECK_MS = 20;
/** A pause of the benchmark's own process this long is recorded: its endpoint read nothing meanwhile. */
const STALL_RECORD_MS = 250;
/** A request read this soon after a stall this long may be one its client had given up on (2 s timeout). */
const STALL_CAUSE = { withinMs: 300, atLeastMs: 1_000 };

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const t0 = performance.now();
/** Milliseconds since the benchmark started. */
const now = () => performance.now() - t0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The benchmark's own stalls (a loaded machine): while one lasts, the endpoint reads nothing. */
const stalls: { from: number; to: number }[] = [];
let lastBeat = now();
const stallMonitor = setInterval(() => {
  const beat = now();
  if (beat - lastBeat - STALL_CHECK_MS > STALL_RECORD_MS) {
    stalls.push({ from: lastBeat, to: beat });
  }
  lastBeat = beat;
}, STALL_CHECK_MS);
const progress = (line: string) => console.error(`[chaos ${(now() / 1000).toFixed(1)} s] ${line}`);

// ---------------------------------------------------------------------------------------------------------------
// The endpoint: raw TCP, so that it can be silent, refuse, and tell a request cut before its answer.

type Mode = "healthy" | "slow" | "silent" | "503" | "refused";
const MODES: readonly Mode[] = ["healthy", "slow", "silent", "503", "refused"];

/** One request the endpoint received in full. */
interface Received {
  readonly seq: number;
  /** The behaviour in force when it arrived. */
  readonly mode: Mode;
  /** When it arrived, in ms since the start. */
  readonly at: number;
  /** The `id` parameters of its events, in order. */
  readonly ids: string[];
  /** When its answer was written, and its status. */
  answeredAt?: number;
  status?: number;
  /** When its connection closed before the answer was written: a cut request. */
  cutAt?: number;
}

class FlappingEndpoint {
  readonly requests: Received[] = [];
  mode: Mode = "healthy";
  port = 0;
  #listener: Deno.TcpListener | undefined;
  readonly #connections = new Set<Deno.Conn>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor() {
    this.#listen(0);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/v1.1/events/json`;
  }

  /** Switches behaviour: "refused" closes the listener; any other opens it again on the same port. */
  setMode(mode: Mode): void {
    this.mode = mode;
    if (mode === "refused") {
      this.#listener?.close();
      this.#listener = undefined;
    } else if (!this.#listener) {
      this.#listen(this.port);
    }
  }

  close(): void {
    this.#listener?.close();
    this.#listener = undefined;
    for (const timer of this.#timers) clearTimeout(timer);
    for (const connection of this.#connections) {
      try {
        connection.close();
      } catch {
        // Closed already.
      }
    }
  }

  #listen(port: number): void {
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.#listener = listener;
    this.port = listener.addr.port;
    void (async () => {
      try {
        for await (const connection of listener) void this.#serve(connection);
      } catch {
        // Closed.
      }
    })();
  }

  async #serve(connection: Deno.Conn): Promise<void> {
    this.#connections.add(connection);
    /** Requests of this connection that wait for their answer. */
    const waiting = new Set<Received>();
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      const at = now();
      for (const request of waiting) request.cutAt = at;
      waiting.clear();
      this.#connections.delete(connection);
      try {
        connection.close();
      } catch {
        // Closed already.
      }
    };
    const answer = async (
      request: Received,
      status: number,
      headers: Record<string, string> = {},
    ) => {
      if (!waiting.delete(request)) return; // cut already
      const head = { "content-length": "0", connection: "close", ...headers };
      const text = [
        `HTTP/1.1 ${status} ${status < 400 ? "OK" : "Service Unavailable"}`,
      ]
        .concat(
          Object.entries(head).map(([name, value]) => `${name}: ${value}`),
        ).join("\r\n");
      try {
        const bytes = encoder.encode(`${text}\r\n\r\n`);
        for (let written = 0; written < bytes.length;) {
          written += await connection.write(bytes.subarray(written));
        }
        request.answeredAt = now();
        request.status = status;
        await connection.closeWrite();
      } catch {
        if (request.status === undefined) request.cutAt = now();
        close();
      }
    };
    const receive = (body: string) => {
      const request: Received = {
        seq: this.requests.length,
        mode: this.mode,
        at: now(),
        ids: idsOf(body),
      };
      this.requests.push(request);
      waiting.add(request);
      switch (this.mode) {
        case "slow": {
          const timer = setTimeout(() => {
            this.#timers.delete(timer);
            void answer(request, 200);
          }, SLOW_MS);
          this.#timers.add(timer);
          return;
        }
        case "silent":
          return; // until the client gives up, or dies
        case "503":
          return void answer(request, 503, {
            "retry-after": String(RETRY_AFTER_SECONDS),
          });
        default:
          // Healthy; or refused, on a connection accepted before the listener closed: answered as healthy.
          return void answer(request, 200);
      }
    };
    let buffer = new Uint8Array(0);
    const chunk = new Uint8Array(65_536);
    try {
      for (;;) {
        const n = await connection.read(chunk);
        if (n === null) break;
        const joined = new Uint8Array(buffer.length + n);
        joined.set(buffer);
        joined.set(chunk.subarray(0, n), buffer.length);
        buffer = joined;
        for (
          let parsed = parseRequest(buffer);
          parsed;
          parsed = parseRequest(buffer)
        ) {
          buffer = buffer.subarray(parsed.length);
          receive(parsed.body);
        }
      }
    } catch {
      // Reset by the peer.
    } finally {
      close();
    }
  }
}

/** The `id` parameters of an envelope's events. */
function idsOf(body: string): string[] {
  try {
    const events = JSON.parse(body).events;
    return Array.isArray(events) ? events.map((event) => String(event?.parameters?.id)) : [];
  } catch {
    return [];
  }
}

function indexOf(buffer: Uint8Array, text: string, from = 0): number {
  const needle = encoder.encode(text);
  outer: for (let i = from; i <= buffer.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (buffer[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** Parses one HTTP/1.1 request with a Content-Length or chunked body; `undefined` until it is complete. */
function parseRequest(
  buffer: Uint8Array,
): { body: string; length: number } | undefined {
  const end = indexOf(buffer, "\r\n\r\n");
  if (end < 0) return undefined;
  const headers = new Map<string, string>();
  for (
    const line of decoder.decode(buffer.subarray(0, end)).split("\r\n").slice(1)
  ) {
    const colon = line.indexOf(":");
    headers.set(
      line.slice(0, colon).trim().toLowerCase(),
      line.slice(colon + 1).trim(),
    );
  }
  if (headers.get("transfer-encoding") === "chunked") {
    const chunks: Uint8Array[] = [];
    for (let at = end + 4;;) {
      const lineEnd = indexOf(buffer, "\r\n", at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(decoder.decode(buffer.subarray(at, lineEnd)), 16);
      if (buffer.length < lineEnd + 2 + size + 2) return undefined;
      if (size === 0) {
        const body = chunks.map((part) => decoder.decode(part)).join("");
        return { body, length: lineEnd + 4 };
      }
      chunks.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const length = end + 4 + Number(headers.get("content-length") ?? 0);
  if (buffer.length < length) return undefined;
  return { body: decoder.decode(buffer.subarray(end + 4, length)), length };
}

// ---------------------------------------------------------------------------------------------------------------
// Processes: /proc, start times, senders of this spool.

/** A process's state and start time (in clock ticks since boot), from /proc/<pid>/stat. */
function procStat(pid: number): { state: string; start: number } | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0], start: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

function uptimeSeconds(): number {
  return Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
}

/** A sender of ours: its environment carries a sender configuration that names our spool. */
function isOurSender(pid: number, spool: string): boolean {
  try {
    const environ = decoder.decode(Deno.readFileSync(`/proc/${pid}/environ`));
    return environ.includes("NAT_TELEMETRY_SENDER=") &&
      environ.includes(JSON.stringify(spool).slice(1, -1));
  } catch {
    return false;
  }
}

/** A sender as the sampler saw it. */
interface SenderSeen {
  readonly pid: number;
  readonly start: number;
  readonly firstSeen: number;
  lastSeen: number;
  /** Its age at the last sighting, in seconds. */
  age: number;
  killed: boolean;
  /** Its command line, for the report. */
  command: string;
}

/** The run of one program. */
interface Run {
  readonly id: string;
  pid?: number;
  /** It said it recorded its event. */
  recorded: boolean;
  killed: boolean;
  code?: number;
  signal?: string | null;
  ms: number;
  /** Its age at the last sample, in seconds. */
  age: number;
  stats?: Stats;
  exit: "sender" | "spool" | "in process" | "unknown";
  reason?: string;
  /** Lines on stderr that are not the trail's. */
  noise: string[];
  stderr: string;
}

/** What a run's handler counted (its `stats()`). */
type Stats = TelemetryStats;

// ---------------------------------------------------------------------------------------------------------------
// Setup.

const { deno, node, bun, versions } = await runtimes();
const work = await Deno.makeTempDir({ prefix: "nat-telemetry-chaos-" });
const spool = `${work}/spool`;
const home = `${work}/home`;
await Deno.mkdir(home);
/** Copies a directory tree. */
function copyTree(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const entry of Deno.readDirSync(from)) {
    if (entry.isDirectory) {
      copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    } else if (entry.isFile) {
      Deno.copyFileSync(`${from}/${entry.name}`, `${to}/${entry.name}`);
    }
  }
}
// A snapshot of the package and the CLI as they are now: others may edit the working tree during the runs.
const pkg = `${work}/package`;
copyTree(`${root}src`, `${pkg}/src`);
Deno.copyFileSync(`${root}mod.ts`, `${pkg}/mod.ts`);
Deno.writeTextFileSync(`${pkg}/package.json`, '{ "type": "module" }\n');
const cli = `${work}/chaos_cli.mjs`;
Deno.copyFileSync(`${benchDir}chaos_cli.mjs`, cli);
const module = RUNTIME === "deno" ? `${pkg}/mod.ts` : await npmLayout(`${work}/npm`);
/** What was measured: the commit, and whether the package had uncommitted changes then. */
const git = (...args: string[]) =>
  decoder.decode(
    new Deno.Command("git", {
      args: ["-C", root, ...args],
      stdout: "piped",
      stderr: "null",
    }).outputSync().stdout,
  )
    .trim();
const changed = git("status", "--porcelain", "--", "mod.ts", "src").split("\n").filter(
  Boolean,
).length;
const measured = `commit ${git("rev-parse", "--short", "HEAD")}${
  changed ? ` with ${changed} uncommitted change(s) in mod.ts and src/` : ""
}`;
const runtimePath = { deno, node, bun }[RUNTIME];
const program = (id: string, workMs: number) =>
  RUNTIME === "deno" ? [deno, "run", "-A", "--quiet", cli, id, String(workMs)] : [runtimePath, cli, id, String(workMs)];
const flushCommand = RUNTIME === "deno"
  ? [deno, "run", "-A", "--quiet", `${pkg}/src/cli.ts`, "flush"]
  : [runtimePath, `${pkg}/src/cli.ts`, "flush"];

const endpoint = new FlappingEndpoint();
const denoDir = Deno.env.get("DENO_DIR") ??
  `${Deno.env.get("HOME")}/.cache/deno`;
/** A clean environment: nothing of ours (CI, the user's telemetry settings) leaks into the runs. */
const baseEnv: Record<string, string> = {
  PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  HOME: home,
  DENO_DIR: denoDir,
  DENO_NO_UPDATE_CHECK: "1",
  NAT_TELEMETRY_ENABLED: "1",
  NAT_TELEMETRY_CONSENT_FILE: `${home}/consent.toml`,
  NAT_TELEMETRY_SPOOL_DIR: spool,
  NAT_TELEMETRY_ENDPOINT: endpoint.url,
};
const programEnv = {
  ...baseEnv,
  NAT_TELEMETRY_DEBUG: "1",
  NAT_BENCH_MODULE: module,
  ...(KEEP_ALL ? { NAT_CHAOS_OPTIONS: JSON.stringify(KEEP_ALL_OPTIONS) } : {}),
};

const runs: Run[] = [];
const running = new Map<number, { run: Run; child: Deno.ChildProcess }>();
const senders = new Map<string, SenderSeen>();
const kills: { at: number; pid: number; kind: "program" | "sender" }[] = [];
const phases: { mode: Mode; from: number; to?: number }[] = [];
let peakSenders = 0;
let peakSendersAt = 0;
/** The same, counting only senders at least 1 s old: past their start and their look at the lock. */
let peakSettledSenders = 0;
let killing = true;
let flapping = true;
let sampler: ReturnType<typeof setInterval> | undefined;
let cleaned = false;

function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  flapping = false;
  killing = false;
  if (sampler !== undefined) clearInterval(sampler);
  clearInterval(stallMonitor);
  for (const { child } of running.values()) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone.
    }
  }
  for (const sender of ourSendersAlive()) killSender(sender, false);
  endpoint.close();
  try {
    Deno.removeSync(work, { recursive: true });
  } catch {
    // Gone already.
  }
}
Deno.addSignalListener("SIGINT", () => {
  cleanup();
  Deno.exit(130);
});

// ---------------------------------------------------------------------------------------------------------------
// The sampler: every 100 ms, the senders of our spool and the age of every process of ours.

/** Classification cache: pid → start time and whether it is a sender of ours. */
const classified = new Map<
  number,
  { start: number; sender: boolean; checkedAtAge: number }
>();
/** Senders waiting for their kill, so that about KILL_SHARE of them die. */
let senderKillPending = false;

function ourSendersAlive(): SenderSeen[] {
  return [...senders.values()].filter((sender) => {
    const stat = procStat(sender.pid);
    return stat && stat.start === sender.start && stat.state !== "Z" &&
      stat.state !== "X";
  });
}

function killSender(sender: SenderSeen, count: boolean): boolean {
  const stat = procStat(sender.pid);
  if (
    !stat || stat.start !== sender.start || stat.state === "Z" ||
    !isOurSender(sender.pid, spool)
  ) return false;
  try {
    Deno.kill(sender.pid, "SIGKILL");
  } catch {
    return false;
  }
  if (count) {
    sender.killed = true;
    kills.push({ at: now(), pid: sender.pid, kind: "sender" });
  }
  return true;
}

function sample(): void {
  const uptime = uptimeSeconds();
  const alive = new Set<number>();
  let sendersNow = 0;
  let settledNow = 0;
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    const stat = procStat(pid);
    if (!stat || stat.state === "Z" || stat.state === "X") continue;
    alive.add(pid);
    const age = uptime - stat.start / CLOCK_TICKS;
    let known = classified.get(pid);
    // A process young enough may still be between fork and exec: look again until it is 2 s old.
    if (
      !known || known.start !== stat.start ||
      (!known.sender && known.checkedAtAge < 2)
    ) {
      known = {
        start: stat.start,
        sender: isOurSender(pid, spool),
        checkedAtAge: age,
      };
      classified.set(pid, known);
    }
    if (known.sender) {
      sendersNow++;
      if (age >= 1) settledNow++;
      const key = `${pid}:${stat.start}`;
      let sender = senders.get(key);
      if (!sender) {
        let command = "";
        try {
          command = decoder.decode(Deno.readFileSync(`/proc/${pid}/cmdline`))
            .replaceAll("\0", " ").trim();
        } catch {
          // Gone.
        }
        sender = {
          pid,
          start: stat.start,
          firstSeen: now(),
          lastSeen: now(),
          age,
          killed: false,
          command,
        };
        senders.set(key, sender);
        scheduleSenderKill(sender);
      }
      sender.lastSeen = now();
      sender.age = Math.max(sender.age, age);
    }
    const program = running.get(pid);
    if (program) program.run.age = Math.max(program.run.age, age);
  }
  for (const pid of classified.keys()) {
    if (!alive.has(pid)) classified.delete(pid);
  }
  peakSettledSenders = Math.max(peakSettledSenders, settledNow);
  if (sendersNow > peakSenders) {
    peakSenders = sendersNow;
    peakSendersAt = now();
  }
}

function scheduleSenderKill(sender: SenderSeen): void {
  const killed = kills.filter((kill) => kill.kind === "sender").length;
  if (!killing || senderKillPending || killed >= KILL_SHARE * senders.size) {
    return;
  }
  senderKillPending = true;
  setTimeout(() => {
    senderKillPending = false;
    if (killing) killSender(sender, true);
  }, Math.random() * SENDER_KILL_WINDOW_MS);
}

// ---------------------------------------------------------------------------------------------------------------
// The flapping.

async function flap(): Promise<void> {
  let mode: Mode = "healthy";
  while (flapping) {
    const choices = MODES.filter((candidate) => candidate !== mode);
    mode = choices[Math.floor(Math.random() * choices.length)];
    endpoint.setMode(mode);
    if (FORGET_HEALTH) forgetHealth();
    const phase: { mode: Mode; from: number; to?: number } = {
      mode,
      from: now(),
    };
    phases.push(phase);
    const until = now() + PHASE_MS[0] +
      Math.random() * (PHASE_MS[1] - PHASE_MS[0]);
    while (flapping && now() < until) await sleep(50);
    phase.to = now();
  }
}

/** Removes the spool's health files: as if the endpoint's wait had passed. */
function forgetHealth(): void {
  try {
    for (const { name } of Deno.readDirSync(spool)) {
      if (/^health-[0-9a-f]{8}\.json$/.test(name)) {
        Deno.removeSync(`${spool}/${name}`);
      }
    }
  } catch {
    // No spool yet, or removed meanwhile.
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The runs.

let nextRun = 0;
let programKillsPending = 0;
const durations: number[] = [];

function parseRun(run: Run, stdout: string, stderr: string): void {
  run.stderr = stderr;
  for (const line of stdout.split("\n")) {
    if (line === `recorded ${run.id}`) run.recorded = true;
    else if (line.startsWith("stats ")) run.stats = JSON.parse(line.slice(6));
  }
  for (const line of stderr.split("\n")) {
    if (line === "") continue;
    if (!line.startsWith("[nat-telemetry] ")) {
      run.noise.push(line);
      continue;
    }
    const exit =
      /^\[nat-telemetry\] at exit: (handed off to (?:a sender|the sender at work)|handed off to the spool|delivering in process: (.*))/
        .exec(line);
    if (!exit) continue;
    if (
      exit[1].startsWith("handed off to a") ||
      exit[1].startsWith("handed off to the sender")
    ) run.exit = "sender";
    else if (exit[1] === "handed off to the spool") run.exit = "spool";
    else {
      run.exit = "in process";
      run.reason = exit[2];
    }
  }
}

async function runOne(index: number): Promise<void> {
  const id = `chaos-${String(index).padStart(5, "0")}`;
  const run: Run = {
    id,
    recorded: false,
    killed: false,
    ms: 0,
    age: 0,
    exit: "unknown",
    noise: [],
    stderr: "",
  };
  runs.push(run);
  const [command, ...args] = program(id, Math.floor(Math.random() * 100));
  const started = performance.now();
  const child = new Deno.Command(command, {
    args,
    env: programEnv,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  run.pid = child.pid;
  running.set(child.pid, { run, child });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let killedAt = 0;
  const killedSoFar = runs.filter((other) => other.killed).length;
  if (
    killing &&
    killedSoFar + programKillsPending < Math.round(KILL_SHARE * (index + 1))
  ) {
    programKillsPending++;
    const typical = durations.length >= 5 ? median(durations) : 300;
    timer = setTimeout(() => {
      programKillsPending--;
      timer = undefined;
      if (!running.has(child.pid)) return;
      try {
        child.kill("SIGKILL");
        run.killed = true;
        killedAt = now();
      } catch {
        // It ended first: a later run takes the kill.
      }
    }, Math.random() * typical * 1.2);
  }
  const { stdout, stderr, code, signal } = await child.output();
  running.delete(child.pid);
  if (timer !== undefined) {
    clearTimeout(timer);
    programKillsPending--;
  }
  run.ms = performance.now() - started;
  run.code = code;
  run.signal = signal;
  if (run.killed && signal !== "SIGKILL") run.killed = false; // it ended before the signal landed
  if (run.killed) kills.push({ at: killedAt, pid: child.pid, kind: "program" });
  parseRun(run, decoder.decode(stdout), decoder.decode(stderr));
  if (!run.killed) durations.push(run.ms);
}

async function worker(): Promise<void> {
  while (nextRun < RUNS) await runOne(nextRun++);
}

/** The spool's files and the events they hold. */
function spoolContents(): {
  unclaimed: string[];
  claimed: string[];
  /** When the latest lease on a claimed file ends (epoch ms; 0 when none): past it, a run takes the file over. */
  leaseEnd: number;
  temporary: number;
  locks: number;
  health: number;
  files: number;
} {
  const result = {
    unclaimed: [] as string[],
    claimed: [] as string[],
    leaseEnd: 0,
    temporary: 0,
    locks: 0,
    health: 0,
    files: 0,
  };
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(spool)].map((entry) => entry.name);
  } catch {
    return result;
  }
  for (const name of names) {
    if (name.startsWith("t-")) result.temporary++;
    else if (name.startsWith("sender-") && name.endsWith(".lock")) {
      result.locks++;
    } else if (name.startsWith("health-")) result.health++;
    if (!/^[ecl]-.*\.jsonl$/.test(name)) continue;
    const lease = /^l-(\d{13})-/.exec(name);
    if (lease) result.leaseEnd = Math.max(result.leaseEnd, Number(lease[1]));
    result.files++;
    let text = "";
    try {
      text = Deno.readTextFileSync(`${spool}/${name}`);
    } catch {
      continue; // claimed or removed meanwhile
    }
    const into = /^[lc]-/.test(name) ? result.claimed : result.unclaimed;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      try {
        into.push(String(JSON.parse(line).event?.parameters?.id));
      } catch {
        into.push("(corrupt line)");
      }
    }
  }
  return result;
}

async function until(
  condition: () => boolean,
  limitMs: number,
): Promise<boolean> {
  const start = now();
  while (!condition()) {
    if (now() - start > limitMs) return false;
    await sleep(100);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Main.

const flushes: { code: number; out: string; ms: number }[] = [];
let quietAfterMs: number | undefined;
let chaosMs = 0;
try {
  progress(
    `${versions}; runtime ${RUNTIME}; ${RUNS} runs across ${WORKERS} workers; endpoint ${endpoint.url}`,
  );
  // Warm-up (caches, Deno's transpilation): one run with nowhere to send, and no spool.
  await new Deno.Command(program("warm-up", 0)[0], {
    args: program("warm-up", 0).slice(1),
    env: {
      ...programEnv,
      NAT_TELEMETRY_ENDPOINT: "",
      NAT_TELEMETRY_SPOOL_DIR: "",
    },
    clearEnv: true,
    stdout: "null",
    stderr: "null",
  }).output();

  sampler = setInterval(sample, SAMPLE_MS);
  const flapper = flap();
  const reporter = setInterval(() => {
    const done = runs.length - running.size;
    const received = endpoint.requests.reduce(
      (sum, request) => sum + request.ids.length,
      0,
    );
    progress(
      `${done}/${RUNS} runs, ${kills.length} kills, endpoint ${endpoint.mode}, ` +
        `${ourSendersAlive().length} sender(s) alive (peak ${peakSenders}), ${received} event copies received`,
    );
  }, 5_000);
  const chaosStart = now();
  await Promise.all(Array.from({ length: Math.min(WORKERS, RUNS) }, worker));
  chaosMs = now() - chaosStart;
  killing = false;
  flapping = false;
  await flapper;
  endpoint.setMode("healthy");
  clearInterval(reporter);
  progress(
    `runs done in ${(chaosMs / 1000).toFixed(1)} s; recovery: the endpoint is healthy for good`,
  );

  // Recovery: flush while it makes progress, until nothing of ours is left unclaimed (one `flush` takes at most
  // 64 spool files) or a killed process's lease on a claim is still to end; then wait for no sender and nothing
  // unclaimed. Claims an older version left stay for an hour.
  const recoveryStart = now();
  while (now() - recoveryStart < RECOVERY_MS) {
    await until(() => ourSendersAlive().length === 0, 20_000);
    const started = performance.now();
    const flush = await new Deno.Command(flushCommand[0], {
      args: flushCommand.slice(1),
      env: baseEnv,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = `${decoder.decode(flush.stdout).trim()} ${decoder.decode(flush.stderr).trim()}`.trim();
    flushes.push({ code: flush.code, out, ms: performance.now() - started });
    progress(`flush ${flushes.length}: exit ${flush.code}: ${out}`);
    await until(() => ourSendersAlive().length === 0, 20_000);
    const left = spoolContents();
    // Leases of killed processes end within seconds (an ending run leases only for what is left of its budget);
    // wait them out, and the next flush takes those files over.
    const leaseWait = left.leaseEnd - Date.now();
    if (leaseWait > 0 && now() - recoveryStart + leaseWait < RECOVERY_MS) {
      progress(
        `waiting ${(leaseWait / 1000).toFixed(1)} s for the leases of killed processes to end`,
      );
      await sleep(leaseWait + 100);
      continue;
    }
    if (left.unclaimed.length === 0) break;
    if (Number(/Delivered (\d+)/.exec(out)?.[1] ?? 0) === 0) break; // no progress
  }
  const quiet = () => ourSendersAlive().length === 0 && spoolContents().unclaimed.length === 0;
  if (await until(quiet, QUIET_MS)) quietAfterMs = now() - recoveryStart;
  progress(
    quietAfterMs === undefined
      ? "senders still alive or events unclaimed after the bound"
      : "quiet: no sender alive, nothing unclaimed in the spool",
  );
  clearInterval(sampler);
  sampler = undefined;
  sample();
  report();
} finally {
  cleanup();
}

// ---------------------------------------------------------------------------------------------------------------
// The report.

function report(): void {
  const left = spoolContents();
  const sum = (numbers: number[]) => numbers.reduce((total, n) => total + n, 0);
  const completed = runs.filter((run) => !run.killed);
  const killedRuns = runs.filter((run) => run.killed);
  const crashed = completed.filter((run) => run.code !== 0 || !run.stats);
  const withStats = runs.filter((run) => run.stats);
  const stat = (
    list: Run[],
    key: "enqueued" | "replayed" | "sent" | "spooled",
  ) => sum(list.map((run) => run.stats?.[key] ?? 0));
  const dropped: Record<string, number> = {};
  for (const run of withStats) {
    for (const [reason, n] of Object.entries(run.stats!.dropped)) {
      dropped[reason] = (dropped[reason] ?? 0) + n;
    }
  }
  const byExit = (exit: Run["exit"]) => withStats.filter((run) => run.exit === exit);
  const reasons = new Map<string, number>();
  for (const run of byExit("in process")) {
    reasons.set(run.reason!, (reasons.get(run.reason!) ?? 0) + 1);
  }

  // Copies: every request the server accepted (200) or that was cut before its answer (the server got it).
  const copies = new Map<string, Received[]>();
  let rejectedCopies = 0;
  for (const request of endpoint.requests) {
    const counted = request.status === 200 || request.cutAt !== undefined;
    if (!counted) {
      rejectedCopies += request.ids.length;
      continue;
    }
    for (const id of request.ids) {
      const list = copies.get(id) ?? [];
      list.push(request);
      copies.set(id, list);
    }
  }
  const received = sum([...copies.values()].map((list) => list.length));
  const cause = (request: Received) => {
    if (request.mode === "silent") return "silent endpoint: the client gave up";
    const killed = kills.some((kill) => kill.at <= request.cutAt! && request.cutAt! - kill.at <= KILL_CAUSE_MS);
    return killed ? "a process of ours was killed just before" : "the client closed it (timeout or exit budget)";
  };
  // A sender killed between the answer and deleting its claim leaves the claim; a run takes it over at the lease's end.
  // Killed just before the answer too: the endpoint reads a request a dead sender wrote, and answers a closed socket.
  const settledTooLate = (request: Received) =>
    kills.some((kill) =>
      kill.kind === "sender" && kill.at >= request.at - KILL_CAUSE_MS &&
      kill.at - request.answeredAt! <= KILL_CAUSE_MS
    );
  const readAfterStall = (request: Received) =>
    stalls.some(({ from, to }) =>
      to - from >= STALL_CAUSE.atLeastMs && request.at >= to - STALL_CHECK_MS &&
      request.at - to <= STALL_CAUSE.withinMs
    );
  const explained = new Map<string, number>();
  const unexplained: { id: string; first: Received; second: Received }[] = [];
  for (const [id, list] of copies) {
    for (let k = 1; k < list.length; k++) {
      const previous = list[k - 1];
      const why = previous.cutAt !== undefined
        ? `copy before was cut: ${cause(previous)}`
        : settledTooLate(previous)
        ? "copy before was answered, but its sender was killed just before or after, before it settled the claim (resent when the lease ended)"
        : readAfterStall(previous)
        ? "copy before was read only after the benchmark itself stalled for a second or more: its client had given up"
        : undefined;
      if (why) explained.set(why, (explained.get(why) ?? 0) + 1);
      else unexplained.push({ id, first: previous, second: list[k] });
    }
  }
  const duplicates = received - copies.size;
  const recordedIds = new Set(
    runs.filter((run) => run.recorded).map((run) => run.id),
  );
  const lost = completed.filter((run) => run.recorded && !copies.has(run.id));
  const inSpool = new Set(left.unclaimed);
  const inClaims = new Set(left.claimed);
  const attempts = (id: string) => endpoint.requests.filter((request) => request.ids.includes(id));
  const lostWhere = (id: string) =>
    inSpool.has(id)
      ? "still spooled, unclaimed"
      : inClaims.has(id)
      ? "in a claim of a killed process (taken over when its lease ends)"
      : attempts(id).length > 0
      ? "gone, after failed attempts the server saw (retries exhausted?)"
      : "gone, never seen by the server";
  const lostBy = new Map<string, number>();
  for (const run of lost) {
    lostBy.set(lostWhere(run.id), (lostBy.get(lostWhere(run.id)) ?? 0) + 1);
  }
  const killedReceived = killedRuns.filter((run) => copies.has(run.id)).length;
  // Events gone for good, against what the programs counted as dropped (the senders' own drops are not seen).
  const gone = lost.filter((run) => !inSpool.has(run.id) && !inClaims.has(run.id)).length;
  // Events left in claims of killed processes: a run takes them over when the lease ends and sends them again, so those
  // the endpoint already accepted will arrive twice then.
  const claimedAnswered = left.claimed.filter((id) => copies.get(id)?.some((request) => request.status === 200));
  const claimedCutOnly = left.claimed.filter((id) =>
    copies.has(id) && !copies.get(id)!.some((request) => request.status === 200)
  );
  const countedDrops = sum(Object.values(dropped));
  const strays = [...copies.keys()].filter((id) => !recordedIds.has(id) && !runs.some((run) => run.id === id));

  const senderList = [...senders.values()];
  const oldestSender = senderList.reduce<SenderSeen | undefined>(
    (a, b) => (a && a.age >= b.age ? a : b),
    undefined,
  );
  const tooOld = senderList.filter((sender) => sender.age > SENDER_LIMIT_S);
  const oldestProgram = runs.reduce<Run | undefined>(
    (a, b) => (a && a.age >= b.age ? a : b),
    undefined,
  );
  const longestRun = Math.max(...runs.map((run) => run.ms));
  const senderKills = kills.filter((kill) => kill.kind === "sender").length;

  const modeTime = new Map<
    Mode,
    {
      ms: number;
      phases: number;
      requests: number;
      events: number;
      cut: number;
    }
  >();
  for (const mode of MODES) {
    modeTime.set(mode, { ms: 0, phases: 0, requests: 0, events: 0, cut: 0 });
  }
  for (const phase of phases) {
    const entry = modeTime.get(phase.mode)!;
    entry.ms += (phase.to ?? phase.from) - phase.from;
    entry.phases++;
  }
  const recoveryRequests = endpoint.requests.filter((request) => request.at >= t0Recovery());
  for (const request of endpoint.requests) {
    if (request.at >= t0Recovery()) continue;
    const entry = modeTime.get(request.mode)!;
    entry.requests++;
    entry.events += request.ids.length;
    if (request.cutAt !== undefined) entry.cut++;
  }

  const s = (ms: number) => (ms / 1000).toFixed(1);
  const out: string[] = [];
  out.push(
    `\n### Chaos: ${RUNS} runs, ${WORKERS} workers, a flapping endpoint, 5 % of programs and senders killed\n`,
  );
  out.push(
    `${versions}; the package at ${measured}; the runs under **${RUNTIME}** (${
      RUNTIME === "deno" ? "TypeScript sources" : "JavaScript laid out as JSR's npm layer serves it"
    }). One spool, one endpoint; the runs took ${s(chaosMs)} s; the endpoint changed every ${PHASE_MS[0] / 1000}-${
      PHASE_MS[1] / 1000
    } s; ${
      FORGET_HEALTH
        ? "its recorded failures forgotten at every change (`--forget-health`)"
        : "the runs' own record of its failures respected"
    }; ${
      KEEP_ALL
        ? `the runs' spool bounds and retry limit raised (\`--keep-all\`: ${JSON.stringify(KEEP_ALL_OPTIONS)})`
        : "the package's default bounds (1,000 events / 1 MiB spooled, 3 retries)"
    }; then recovery (healthy for good, \`nat-telemetry flush\`, waiting).\n`,
  );
  out.push(
    "| endpoint behaviour | time (s) | phases | requests | event copies | cut before the answer |",
  );
  out.push("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const [mode, entry] of modeTime) {
    out.push(
      `| ${mode} | ${s(entry.ms)} | ${entry.phases} | ${entry.requests} | ${entry.events} | ${entry.cut} |`,
    );
  }
  out.push(
    `| recovery (healthy) | ${s(now() - t0Recovery())} | 1 | ${recoveryRequests.length} | ${
      sum(recoveryRequests.map((request) => request.ids.length))
    } | ${recoveryRequests.filter((request) => request.cutAt !== undefined).length} |`,
  );

  out.push(
    "\n**What the programs counted** (`stats()` of the runs that printed it; the trail tells the exits apart)\n",
  );
  out.push("| | runs | events |");
  out.push("| --- | ---: | ---: |");
  out.push(`| runs | ${runs.length} | |`);
  out.push(`| killed with SIGKILL | ${killedRuns.length} | |`);
  out.push(
    `| not killed, exit code ≠ 0 or no stats (crash) | ${crashed.length} | |`,
  );
  out.push(
    `| recorded (enqueued) | ${withStats.length} | ${stat(withStats, "enqueued")} |`,
  );
  out.push(
    `| handed off to a sender | ${byExit("sender").length} | ${stat(byExit("sender"), "spooled")} |`,
  );
  out.push(
    `| spooled, no sender (the endpoint marked down) | ${byExit("spool").length} | ${
      stat(byExit("spool"), "spooled")
    } |`,
  );
  out.push(
    `| delivered in process: sent | ${byExit("in process").length} | ${stat(byExit("in process"), "sent")} |`,
  );
  out.push(
    `| delivered in process: left spooled | | ${stat(byExit("in process"), "spooled")} |`,
  );
  out.push(
    `| replayed (taken from the spool) | | ${stat(withStats, "replayed")} |`,
  );
  out.push(`| exit path not in the trail | ${byExit("unknown").length} | |`);
  for (const [reason, n] of Object.entries(dropped)) {
    out.push(`| dropped: ${reason} | | ${n} |`);
  }
  for (const [reason, n] of reasons) {
    out.push(`| in process because: ${reason} | ${n} | |`);
  }

  out.push(
    "\n**What the endpoint received** (copies it answered 200, or that were cut before the answer)\n",
  );
  out.push("| | events |");
  out.push("| --- | ---: |");
  out.push(`| received (total) | ${received} |`);
  out.push(`| distinct | ${copies.size} |`);
  out.push(`| duplicates | ${duplicates} |`);
  for (const [why, n] of explained) {
    out.push(`| duplicates explained (${why}) | ${n} |`);
  }
  out.push(`| **duplicates unexplained** | **${unexplained.length}** |`);
  out.push(`| rejected copies (503, not counted above) | ${rejectedCopies} |`);
  out.push(
    `| recorded by a program not killed | ${completed.filter((run) => run.recorded).length} |`,
  );
  out.push(
    `| **lost** (recorded by a program not killed, never received) | **${lost.length}** |`,
  );
  for (const [where, n] of lostBy) out.push(`| lost: ${where} | ${n} |`);
  out.push(
    `| dropped with a reason, as the programs counted (all reasons above) | ${countedDrops} |`,
  );
  out.push(
    `| **lost for good, beyond the programs' counted drops** | **${Math.max(0, gone - countedDrops)}** |`,
  );
  out.push(
    `| recorded by a killed program: received | ${killedReceived} of ${killedRuns.length} killed |`,
  );
  out.push(
    `| left in claims of killed processes (sent again when the lease ends): already accepted (200) / only cut copies / never received | ${claimedAnswered.length} / ${claimedCutOnly.length} / ${
      left.claimed.length - claimedAnswered.length - claimedCutOnly.length
    } |`,
  );
  out.push(`| received but recorded by no run (strays) | ${strays.length} |`);

  out.push("\n**Processes**\n");
  out.push("| | |");
  out.push("| --- | ---: |");
  out.push(`| senders seen | ${senderList.length} |`);
  out.push(`| senders killed with SIGKILL | ${senderKills} |`);
  out.push(`| programs killed with SIGKILL | ${killedRuns.length} |`);
  out.push(
    `| peak senders alive at once | ${peakSenders} (at ${s(peakSendersAt)} s) |`,
  );
  const longestStall = stalls.reduce<{ from: number; to: number } | undefined>(
    (a, b) => (a && a.to - a.from >= b.to - b.from ? a : b),
    undefined,
  );
  out.push(
    `| the benchmark's own stalls of ${
      STALL_RECORD_MS / 1000
    } s or more (its endpoint read nothing): count; longest | ${stalls.length}; ${
      longestStall ? `${s(longestStall.to - longestStall.from)} s (at ${s(longestStall.from)} s)` : "none"
    } |`,
  );
  out.push(
    `| peak senders alive at once, at least 1 s old | ${peakSettledSenders} |`,
  );
  out.push(
    `| oldest sender seen (s; limit ${SENDER_LIMIT_S}) | ${oldestSender ? oldestSender.age.toFixed(2) : "-"} |`,
  );
  out.push(
    `| senders seen older than ${SENDER_LIMIT_S} s | ${tooOld.length} |`,
  );
  out.push(
    `| oldest program seen (s) | ${oldestProgram ? oldestProgram.age.toFixed(2) : "-"} |`,
  );
  out.push(`| longest program run, wall time (s) | ${s(longestRun)} |`);
  out.push(`| median program run, wall time (s) | ${s(median(durations))} |`);
  out.push(
    `| flushes in recovery (exit codes) | ${flushes.map((flush) => flush.code).join(", ")} |`,
  );
  out.push(
    `| recovery until no sender and an empty spool (s) | ${
      quietAfterMs === undefined ? `not within ${RECOVERY_MS / 1000}` : s(quietAfterMs)
    } |`,
  );
  out.push(
    `| left in the spool: unclaimed / in claims / temporary files / locks / health files | ${left.unclaimed.length} / ${left.claimed.length} / ${left.temporary} / ${left.locks} / ${left.health} |`,
  );

  const problems: string[] = [];
  for (const { id, first, second } of unexplained.slice(0, 10)) {
    problems.push(
      `- unexplained duplicate ${id}: request #${first.seq} (${first.mode}, at ${
        s(first.at)
      } s, answered ${first.status} after ${
        ((first.answeredAt ?? first.at) - first.at).toFixed(0)
      } ms) then #${second.seq} (${second.mode}, at ${s(second.at)} s); sender kills from 1 s before the first: ${
        kills.filter((kill) =>
          kill.kind === "sender" && kill.at >= first.at - 1_000 &&
          kill.at <= second.at
        )
          .map((kill) => `${s(kill.at)} s`).join(", ") || "none"
      }; the benchmark's stalls in the 2 s before the first: ${
        stalls.filter(({ to }) => to <= first.at + STALL_CHECK_MS && first.at - to <= 2_000)
          .map(({ from, to }) => `${s(to - from)} s until ${s(to)} s`).join(
            ", ",
          ) || "none"
      }`,
    );
  }
  for (const run of lost.slice(0, 10)) {
    const seen = attempts(run.id).map((request) =>
      `#${request.seq} ${request.mode} ${request.status ?? "cut"} at ${s(request.at)} s`
    );
    problems.push(
      `- lost ${run.id} (${lostWhere(run.id)}): exit ${run.exit}${run.reason ? ` (${run.reason})` : ""}, stats ${
        JSON.stringify(run.stats)
      }; copies the server saw: ${seen.join("; ") || "none"}`,
    );
  }
  for (const sender of tooOld.slice(0, 10)) {
    problems.push(
      `- sender ${sender.pid} seen at ${sender.age.toFixed(2)} s old: ${sender.command}`,
    );
  }
  for (const run of crashed.slice(0, 10)) {
    problems.push(
      `- crash ${run.id}: exit ${run.code} ${run.signal ?? ""}: ${run.stderr.trim().split("\n").slice(-3)}`,
    );
  }
  const noisy = completed.filter((run) => run.noise.length > 0);
  if (noisy.length > 0) {
    problems.push(
      `- ${noisy.length} run(s) printed to stderr outside the trail: ${noisy[0].noise[0]}`,
    );
  }
  for (const flush of flushes) {
    problems.push(
      `- flush (exit ${flush.code}, ${s(flush.ms)} s): ${flush.out}`,
    );
  }
  out.push(`\n**Details**\n`);
  out.push(...problems);
  console.log(out.join("\n"));
}

/** When the recovery began: the end of the last phase. */
function t0Recovery(): number {
  return phases.at(-1)?.to ?? now();
}
