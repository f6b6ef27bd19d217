/**
 * The `nat-telemetry` command: see and change the telemetry decision (shared
 * with the Python tool's `nat configure telemetry`), deliver or inspect the
 * spool, and run the local collector.
 *
 * ```sh
 * deno run -A jsr:@nat/telemetry/cli status
 * node src/cli.ts disable
 * bun src/cli.ts collector --status 503 --retry-after 30
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { isLoopback, startCollector } from "./collector.ts";
import { type EffectiveConsent, effectiveConsent, recordConsent } from "./consent.ts";
import { NATTelemetryHandler } from "./handler.ts";
import { EndpointHealth } from "./health.ts";
import { resolveOptions } from "./options.ts";
import { host } from "./runtime/mod.ts";
import { Spool, spoolKey } from "./spool.ts";

const USAGE: Record<string, string> = {
  main: `Usage: nat-telemetry [command] [options]

Commands:
  status      Show whether telemetry is on, and why (the default)
  enable      Record consent to share anonymous usage data
  disable     Record that no usage data may be shared, and delete spooled events
  flush       Deliver the spooled events now
  inspect     List spooled events and the endpoint's health
  collector   Run a local ingest server that prints what it receives

Options:
  -h, --help  Show help for a command

Environment: NAT_TELEMETRY_ENABLED, DO_NOT_TRACK, NAT_TELEMETRY_CONSENT_FILE, NAT_TELEMETRY_ENDPOINT,
NAT_TELEMETRY_SPOOL_DIR, NO_COLOR.`,
  status: `Usage: nat-telemetry status [--json]

Shows whether telemetry is on, what decided it (an environment variable, the consent file, or the default),
and notes when an environment variable overrides the consent file.`,
  enable: `Usage: nat-telemetry enable

Records consent in the consent file shared with the Python tool. Exits 1, with the previous decision
unchanged, if it cannot be saved.`,
  disable: `Usage: nat-telemetry disable

Records that no usage data may be shared, and deletes events waiting in the spool. Exits 1, with the
previous decision unchanged, if it cannot be saved.`,
  flush: `Usage: nat-telemetry flush

Delivers the spooled events now, even while the endpoint is marked as down, and reports the counts.
Exits 1 if events are left in the spool.`,
  inspect: `Usage: nat-telemetry inspect [--json]

Lists the spooled events and the endpoint's health state.`,
  collector: `Usage: nat-telemetry collector [options]

Runs a local ingest server on loopback that checks envelopes and prints one line per event.

Options:
  --port N           Port to listen on (default: chosen by the OS)
  --host ADDRESS     Loopback address to listen on (default: 127.0.0.1)
  --allow-remote     Allow a --host that is not loopback: anyone who reaches it can post
  --jsonl FILE       Append accepted events to FILE
  --status N         Answer every envelope with status N (fault injection)
  --retry-after S    Send Retry-After: S with every answer
  --delay MS         Wait MS milliseconds before answering
  --silent           Accept connections and never answer`,
};

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
  port: { type: "string" },
  host: { type: "string" },
  "allow-remote": { type: "boolean" },
  jsonl: { type: "string" },
  status: { type: "string" },
  "retry-after": { type: "string" },
  delay: { type: "string" },
  silent: { type: "boolean" },
} as const;

/** Where output goes; tests pass their own. */
export interface CliOutput {
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** Whether to use colour: a terminal, and NO_COLOR unset or empty. */
  color: boolean;
}

function defaultOutput(): CliOutput {
  const runtime = host();
  return {
    out: (text) => runtime.writeStdout(text),
    err: (text) => runtime.writeStderr(text),
    color: runtime.stdoutIsTerminal() && !runtime.env("NO_COLOR"),
  };
}

/**
 * Runs the `nat-telemetry` command.
 *
 * @param args The command-line arguments, without the program's name.
 * @param output Where to write. @default {standard output and error}
 * @returns The exit code: 0 success, 1 failure, 2 bad usage; `collector` resolves when its server stops.
 * @example
 * ```ts
 * import { main } from "@nat/telemetry/cli";
 * const code = await main(["status", "--json"]);
 * ```
 */
export async function main(args: readonly string[], output: CliOutput = defaultOutput()): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    output.err(`nat-telemetry: ${(error as Error).message}\n\n${USAGE.main}\n`);
    return 2;
  }
  const [command = "status", ...extra] = parsed.positionals;
  const { values } = parsed;
  if (!(command in USAGE) || command === "main" || extra.length > 0) {
    output.err(`nat-telemetry: unknown command '${[command, ...extra].join(" ")}'\n\n${USAGE.main}\n`);
    return 2;
  }
  if (values.help) {
    output.out(`${parsed.positionals.length === 0 ? USAGE.main : USAGE[command]}\n`);
    return 0;
  }
  switch (command) {
    case "status":
      return status(output, values.json === true);
    case "enable":
    case "disable":
      return decide(output, command === "enable" ? "enabled" : "disabled");
    case "flush":
      return await flush(output);
    case "inspect":
      return inspect(output, values.json === true);
    default:
      return await collector(output, values);
  }
}

function paint(output: CliOutput, text: string, on: boolean): string {
  return output.color ? `\x1b[${on ? 32 : 31}m${text}\x1b[0m` : text;
}

function describeSource(consent: EffectiveConsent): string {
  switch (consent.source) {
    case "NAT_TELEMETRY_ENABLED":
    case "DO_NOT_TRACK":
      return `the ${consent.source} environment variable`;
    case "file":
      return `the consent file ${consent.path}`;
    default:
      return "the default: nobody has decided yet";
  }
}

/** The note printed when an environment variable decides over a recorded decision. */
function overrideNote(consent: EffectiveConsent): string | undefined {
  if (consent.source === "file" || consent.source === "default" || consent.fileState === "never_asked") {
    return undefined;
  }
  return `${consent.source} overrides the consent file, which says: ${consent.fileState}.`;
}

function status(output: CliOutput, json: boolean): number {
  const consent = effectiveConsent();
  if (json) {
    output.out(`${
      JSON.stringify({
        enabled: consent.enabled,
        source: consent.source,
        consentFile: consent.path ?? null,
        fileState: consent.fileState,
        overriddenByEnvironment: overrideNote(consent) !== undefined,
        ...(consent.fileProblem ? { fileProblem: consent.fileProblem } : {}),
      })
    }\n`);
    return 0;
  }
  output.out(`Telemetry: ${paint(output, consent.enabled ? "enabled" : "disabled", consent.enabled)}\n`);
  output.out(`Decided by: ${describeSource(consent)}\n`);
  const note = overrideNote(consent);
  if (note) output.out(`Note: ${note}\n`);
  if (consent.fileProblem) output.out(`Note: the consent file ${consent.fileProblem}, so it is read as disabled.\n`);
  return 0;
}

function decide(output: CliOutput, state: "enabled" | "disabled"): number {
  const before = effectiveConsent();
  if (!recordConsent(state)) {
    output.err(
      `nat-telemetry: could not save the decision to ${before.path ?? "the consent file (no home directory)"}; ` +
        `the previous decision (${before.fileState}) is unchanged.\n`,
    );
    return 1;
  }
  output.out(`Telemetry ${state}: saved to ${before.path}.\n`);
  if (state === "disabled") {
    const deleted = openSpool()?.spool.clear() ?? 0;
    if (deleted > 0) output.out(`Deleted ${deleted} spooled event(s) that had not been sent.\n`);
  }
  const note = overrideNote(effectiveConsent());
  if (note) output.out(`Note: ${note}\n`);
  return 0;
}

/** The spool and endpoint the environment names, as a handler would use them. */
function openSpool(): { spool: Spool; health: EndpointHealth | undefined } | undefined {
  const options = resolveOptions({});
  const files = host().files;
  const key = spoolKey(options.sink.kind === "http" ? options.sink.url : "", options.format.name);
  const spool = options.spoolDir && files ? Spool.open(options.spoolDir, files, options.spoolLimits, key) : undefined;
  if (!spool || !files) return undefined;
  const health = options.sink.kind === "http"
    ? new EndpointHealth(files, spool.dir, options.sink.url, Date.now, Math.random)
    : undefined;
  return { spool, health };
}

async function flush(output: CliOutput): Promise<number> {
  const opened = openSpool();
  if (!opened) {
    output.err("nat-telemetry: there is no spool (no spool directory, or it cannot be read and written).\n");
    return 1;
  }
  if (!effectiveConsent().enabled) {
    output.err("nat-telemetry: telemetry is disabled; nothing was sent.\n");
    return 1;
  }
  opened.health?.forget(); // The user asks to try now.
  const handler = new NATTelemetryHandler();
  handler.start();
  await handler.stop();
  const stats = handler.stats();
  const dropped = Object.values(stats.dropped).reduce((sum, n) => sum + n, 0);
  // What another run has claimed is that run's to deliver, and other endpoints' events are not ours: not "left".
  const left = opened.spool.peek()
    .filter((file) => file.ours && !file.claimed)
    .reduce((sum, file) => sum + file.events.length, 0);
  output.out(`Delivered ${stats.sent} event(s); dropped ${dropped}; ${left} left in the spool.\n`);
  return left === 0 ? 0 : 1;
}

function inspect(output: CliOutput, json: boolean): number {
  const opened = openSpool();
  const files = opened?.spool.peek() ?? [];
  const events = files.flatMap((file) =>
    file.events.map((event) => {
      const wire = JSON.parse(event.json);
      return {
        name: wire.name,
        ts: wire.ts,
        retries: event.retries,
        claimed: file.claimed,
        parameters: wire.parameters,
      };
    })
  );
  const state = opened?.health?.state;
  const health = state
    ? { failures: state.failures, notBefore: new Date(state.notBefore).toISOString() }
    : { failures: 0, notBefore: null };
  if (json) {
    output.out(`${JSON.stringify({ spoolDir: opened?.spool.dir ?? null, events, health })}\n`);
    return 0;
  }
  output.out(`Spool: ${opened?.spool.dir ?? "none"}\n`);
  output.out(`${events.length} spooled event(s)\n`);
  for (const event of events) {
    const p = event.parameters;
    const what = event.name === "nat_cli_command" ? `${p.command} ${p.taskStatus} exit=${p.exitCode}` : "";
    output.out(
      `  ${event.ts}  ${event.name}  ${what}  retries=${event.retries}${event.claimed ? "  (claimed)" : ""}\n`,
    );
  }
  output.out(
    state
      ? `Endpoint: down after ${state.failures} failure(s); next try after ${health.notBefore}\n`
      : "Endpoint: no recorded failure\n",
  );
  return 0;
}

async function collector(output: CliOutput, values: Record<string, string | boolean | undefined>): Promise<number> {
  const number = (name: string): number | undefined => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`--${name} must be a whole number, got ${raw}`);
    return value;
  };
  let server;
  try {
    server = await startCollector({
      port: number("port"),
      hostname: values.host as string | undefined,
      allowRemote: values["allow-remote"] === true,
      jsonlPath: values.jsonl as string | undefined,
      status: number("status"),
      retryAfterSeconds: number("retry-after"),
      delayMs: number("delay"),
      silent: values.silent === true,
      log: (line) => output.out(`${line}\n`),
    });
  } catch (error) {
    output.err(`nat-telemetry: ${(error as Error).message}\n`);
    return error instanceof RangeError ? 2 : 1;
  }
  if (values["allow-remote"] === true && !isLoopback(server.url.replace(/^http:\/\/(.*):\d+\/.*$/, "$1"))) {
    output.err(`nat-telemetry: warning: listening on ${values.host}, not loopback: anyone who reaches it can post.\n`);
  }
  output.out(`Collector listening: NAT_TELEMETRY_ENDPOINT=${server.url}\nPress Ctrl-C to stop.\n`);
  return await new Promise<number>(() => {}); // Runs until the process is interrupted.
}

// Running this file directly runs the command, in every runtime.
if (import.meta.main) host().setExitCode(await main(host().args()));
