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
 * A CLI offers `status`, `enable` and `disable` to its own users with
 * {@link telemetryCommand} (`mycli telemetry disable`): they do not have
 * `nat-telemetry`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Backlog, backlogKey, fallbackBeside, openSpool as openOptionsSpool, spoolFallbackOf } from "./backlog.ts";
import { randomFraction } from "./atomic.ts";
import { clearTextSecrets, isLoopback } from "./clear_text.ts";
import { startCollector } from "./collector.ts";
import { AT_PAST_HOST, environmentSettings, httpUrlProblem, whyHidden } from "./config.ts";
import { type EffectiveConsent, effectiveConsent, isTelemetryEnabled, PROMPT_VERSION, saveConsent } from "./consent.ts";
import { describe, redact, unknownOption } from "./describe.ts";
import { formatTimestamp } from "./envelope.ts";
import { exitDecision, type InProcessOutcome, removeSenderScripts } from "./exit_strategy.ts";
import { shortHash } from "./hash.ts";
import { downUntil, EndpointHealth, healthHash, type HealthState, recordedHealth } from "./health.ts";
import { type NATTelemetryHandlerOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { host, runtimeInfo } from "./runtime/mod.ts";
import { type ProxyReport, proxyReport } from "./runtime/proxy_report.ts";
import { optOutProblem } from "./prompt.ts";
import { drainSpool } from "./sender.ts";
import { type DropsRecord, dropsRecords } from "./drops_record.ts";
import { Spool, spoolKey } from "./spool.ts";
import { addCount } from "./tally.ts";

/** The help of `status`, under the name the user runs it by. */
function statusUsage(command: string): string {
  return `Usage: ${command} [--json]

Shows whether telemetry is on, what decided it (an environment variable, the consent file, or the default),
and notes when an environment variable overrides the consent file; then the settings in force (endpoint,
format, proxy, spool directory, how events leave at exit, and why), and every value of the environment or
the consent file that is not understood, with what is done instead.`;
}

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
NAT_TELEMETRY_FORMAT, NAT_TELEMETRY_SPOOL_DIR, NAT_TELEMETRY_HANDOFF, NAT_TELEMETRY_DRY_RUN, NO_COLOR.`,
  status: statusUsage("nat-telemetry status"),
  enable: `Usage: nat-telemetry enable

Records consent in the consent file shared with the Python tool. Exits 1, with the previous decision
unchanged, if it cannot be saved.`,
  disable: `Usage: nat-telemetry disable

Records that no usage data may be shared, and deletes events waiting in the spool. Exits 1, with the
previous decision unchanged, if it cannot be saved.`,
  flush: `Usage: nat-telemetry flush

Delivers the spooled events now, even while the endpoint is marked as down, pass after pass for at most
30 s, and reports the counts. Exits 1 if events are left in the spool.`,
  inspect: `Usage: nat-telemetry inspect [--json]

Lists the spooled events, and the health of every endpoint they wait for (and of the endpoint in force).`,
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
  /** Whether to use colour: a terminal that is not `TERM=dumb`, and NO_COLOR unset or empty. */
  color: boolean;
}

function defaultOutput(): CliOutput {
  const runtime = host();
  return {
    out: (text) => runtime.writeStdout(text),
    err: (text) => runtime.writeStderr(text),
    color: runtime.stdoutIsTerminal() && !runtime.env("NO_COLOR") && runtime.env("TERM") !== "dumb",
  };
}

/**
 * What `parseArgs` refused in a command line, said for its user: its advice on `--` (for a positional argument that
 * starts with `-`) is none of these commands', which take no such argument, and quoted one quote short.
 */
function argumentsProblem(error: unknown): string {
  return String((error as Error).message).replace(/\. To specify a positional argument .*$/s, "");
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
    output.err(`nat-telemetry: ${argumentsProblem(error)}\n\n${USAGE.main}\n`);
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
      return decide(output, command === "enable" ? "enabled" : "disabled", "nat-telemetry");
    case "flush":
      return await flush(output);
    case "inspect":
      return inspect(output, values.json === true);
    default:
      return await collector(output, values);
  }
}

/** Options of {@link telemetryCommand}. */
export interface TelemetryCommandOptions {
  /** The command as the CLI's users type it, named in its help and messages, e.g. `"mycli telemetry"`. */
  name: string;
  /** Where to write. @default {standard output and error} */
  output?: CliOutput | undefined;
  /**
   * The handler options the CLI passes to `trackCommand` (its `handler`), where they set the endpoint, format or
   * spool: `status` then shows what the CLI's runs use, and `disable` deletes the events of their spool.
   * @default {{}}
   */
  handler?: Omit<NATTelemetryHandlerOptions, "captureInterrupts"> | undefined;
}

/**
 * The `status`, `enable` and `disable` commands of `nat-telemetry`, for a CLI
 * to offer its own users in one line (`mycli telemetry status|enable|disable`):
 * they have the CLI, not `nat-telemetry`. Help and messages name the CLI's
 * command. The decision is the one the consent file records, shared with the
 * Python tool and every CLI built on this package; `disable` also deletes
 * spooled events. Run it in place of `trackCommand`, not inside it, so that a
 * user who runs `mycli telemetry disable` is not asked the consent question
 * first, and the choice itself is not recorded.
 *
 * @param args The arguments after the command: `status` (the default, `--json` for JSON), `enable`, `disable`,
 *   or `--help`.
 * @param options The command's name as the user types it, and where to write.
 * @returns The exit code: 0 success, 1 when the decision could not be saved (or, `disable`, the events waiting
 *   could not be deleted), 2 bad usage.
 * @throws {TypeError} When `args` is not an array of strings or `options.name` not a non-empty string; a
 *   `TypeError` or `RangeError` for `options.handler` as the handler's constructor would throw (but for `disable`,
 *   which records the opt-out all the same, says it could not delete the spooled events, and returns 1).
 * @example
 * ```ts
 * import process from "node:process";
 * import { telemetryCommand } from "@nat/telemetry/cli";
 *
 * const [command, ...args] = process.argv.slice(2);
 * if (command === "telemetry") process.exitCode = telemetryCommand(args, { name: "mycli telemetry" });
 * ```
 */
export function telemetryCommand(args: readonly string[], options: TelemetryCommandOptions): number {
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === "string")) {
    throw new TypeError(
      `Cannot run telemetry command: 'args' must be an array of strings (the arguments after the command), got ${
        describe(args)
      }`,
    );
  }
  const name = options?.name;
  // Printed in the usage and in "Change it with" lines: one line, as the user types it.
  const nameProblem = typeof name === "string"
    ? optOutProblem("name", name)
    : `'name' must be a non-empty string, got ${describe(name)}`;
  if (typeof name !== "string" || nameProblem !== undefined) {
    throw new TypeError(`Cannot run telemetry command: ${nameProblem}`);
  }
  // A key mistyped (`handlers`) would leave `disable` clearing another spool than the runs': said, as the handler says.
  const unknown = unknownOption(options, { name: true, output: true, handler: true });
  if (unknown) throw new TypeError(`Cannot run telemetry command: ${unknown}`);
  const handler = options.handler ?? {};
  // Its mistakes are the developer's: thrown here, as the handler would, but for `disable`, which records the user's
  // opt-out first: a value the program took from the user's environment (its own endpoint variable) must not stop it.
  let resolved: ResolvedOptions | Error;
  try {
    resolved = resolveOptions(handler);
  } catch (error) {
    resolved = error as Error;
  }

  // Checked whole: a mistake here would show only where a user mistypes a command (usage goes to `err`).
  const { output = defaultOutput() } = options;
  if (
    typeof output !== "object" || output === null || typeof output.out !== "function" ||
    typeof output.err !== "function"
  ) {
    throw new TypeError(
      `Cannot run telemetry command: 'output' must be an object with 'out' and 'err' functions, got ${
        describe(output)
      }`,
    );
  }
  const usage = `Usage: ${name} [status|enable|disable] [--json]

Shows or changes whether anonymous usage data is shared (a decision shared with the NVIDIA NeMo Agent
Toolkit's tools, in ~/.config/nat/telemetry.toml).

Commands:
  status    Show whether it is shared, what decided it, and the settings in force (the default);
            --json prints the same as JSON
  enable    Share anonymous usage data
  disable   Share nothing, and delete the events that were not sent yet

For one run only: NAT_TELEMETRY_ENABLED=0 (or DO_NOT_TRACK=1) shares nothing.`;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { help: { type: "boolean", short: "h" }, json: { type: "boolean" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    output.err(`${name}: ${argumentsProblem(error)}\n\n${usage}\n`);
    return 2;
  }
  const [command = "status", ...extra] = parsed.positionals;
  if (!["status", "enable", "disable"].includes(command) || extra.length > 0) {
    output.err(`${name}: unknown command '${[command, ...extra].join(" ")}'\n\n${usage}\n`);
    return 2;
  }
  if (parsed.values.help) {
    output.out(`${usage}\n`);
    return 0;
  }
  if (resolved instanceof Error && command !== "disable") throw resolved;
  if (command === "status") return status(output, parsed.values.json === true, name, handler);
  return decide(output, command === "enable" ? "enabled" : "disabled", name, resolved);
}

function paint(output: CliOutput, text: string, on: boolean): string {
  return output.color ? `\x1b[${on ? 32 : 31}m${text}\x1b[0m` : text;
}

function describeSource(consent: EffectiveConsent): string {
  switch (consent.source) {
    case "NAT_TELEMETRY_ENABLED":
    case "DO_NOT_TRACK":
      // Deciding while it reads as unset: the program's permissions hide it, and it could hold an opt-out.
      return host().env(consent.source) === undefined
        ? `the ${consent.source} environment variable, which the program may not read (${whyHidden(consent.source)})`
        : `the ${consent.source} environment variable`;
    case "file":
      return consent.path === undefined
        ? "the consent file, which cannot be found"
        : `the consent file ${consent.path}`;
    default:
      return consent.fileOutdatedYes === undefined
        ? "the default: nobody has decided yet"
        : `the default: the consent file's yes answered another question (${
          consent.fileOutdatedYes === "" ? "no prompt_version" : `prompt_version ${consent.fileOutdatedYes}`
        }; this one is ${PROMPT_VERSION}), so it is asked again`;
  }
}

/** The note printed when an environment variable decides over a recorded decision. */
function overrideNote(consent: EffectiveConsent): string | undefined {
  if (consent.source === "file" || consent.source === "default" || consent.fileState === "never_asked") {
    return undefined;
  }
  // A file that could not be read (or found) says nothing: its problem is told with the others.
  if (consent.fileProblem) return undefined;
  return `${consent.source} overrides the consent file, which says: ${consent.fileState}.`;
}

/** The settings a handler of this program would use, as `status` shows them. */
interface Settings {
  /** Where events go: a URL, `"stdout"`, or `null` when nothing is sent. */
  endpoint: string | null;
  /** What set it, or why nothing is sent. */
  endpointSource: string;
  format: "nat" | "otlp";
  formatSource: string;
  /** Which way requests to the endpoint travel (directly, through which proxy), `null` when nothing is sent. */
  proxy: ProxyReport | null;
  /** The spool directory, `null` for none. */
  spoolDir: string | null;
  /** Why there is none, when there is none. */
  noSpool: string | null;
  /** How events leave at the end of a run: handed off to a sender process, or not, and why. */
  atExit: { handOff: boolean; reason?: string; outcome?: InProcessOutcome };
  /** Every value not understood, one line each, with what is done instead. */
  problems: string[];
  /** Those of them the program's options hold (a string that cannot be used): none, where its code is right. */
  optionProblems: readonly string[];
}

/** Reads the settings in force, as a handler created with these options would. Writes nothing. */
function settingsInForce(consent: EffectiveConsent, handler: NATTelemetryHandlerOptions): Settings {
  const env = host().env;
  const settings = environmentSettings();
  const options = resolveOptions(handler);
  const format = options.format.name;
  const { sink } = options;
  const endpointVariable = handler.endpoint !== undefined
    ? "the program's options"
    : settings.endpoint !== undefined
    ? "NAT_TELEMETRY_ENDPOINT"
    : format !== "otlp"
    ? undefined
    : ["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"].find((name) => env(name));
  const endpointText = typeof handler.endpoint === "string"
    ? handler.endpoint
    : settings.endpoint ?? (endpointVariable ? env(endpointVariable) : undefined);
  const endpointWrong = httpUrlProblem(endpointText ?? "")?.startsWith(AT_PAST_HOST) ? AT_PAST_HOST : undefined;
  const endpointSource = sink.kind === "none"
    ? sink.reason === "invalid_endpoint"
      ? `nothing is sent: ${
        endpointVariable === "the program's options" ? "the program's 'endpoint'" : endpointVariable
      } ${endpointWrong ?? "is not an http(s) URL"}`
      : sink.reason === "invalid_headers"
      ? "nothing is sent: the program's 'headers' cannot be sent"
      : sink.reason === "endpoint_hidden"
      ? "nothing is sent: the program may not read the variable that could name the endpoint"
      : settings.dryRun
      ? host().env("NAT_TELEMETRY_DRY_RUN") === undefined
        ? "nothing is sent: the program may not read NAT_TELEMETRY_DRY_RUN"
        : "nothing is sent: NAT_TELEMETRY_DRY_RUN"
      : "nothing is sent: the endpoint is empty"
    : endpointVariable ?? (format === "otlp" ? "the OTLP default" : "the default");
  const enabled = isTelemetryEnabled();
  // With telemetry off no spool is opened (opening one creates its directory).
  let spoolRefused: string | undefined;
  const backlog = enabled
    ? Backlog.open(options, (why, keptIn) => spoolRefused = keptIn ? `${why}: runs keep it in ${keptIn}` : why)
    : null;
  const decision = enabled
    ? exitDecision(options, backlog, enabled)
    : { handOff: false, reason: "telemetry is disabled", outcome: "dropped" as const };
  const proxy = sink.kind === "http"
    ? proxyReport(
      new URL(sink.url),
      env,
      runtimeInfo().name,
      (name) => host().envHidden?.(name) === true,
      (name) => host().envNotUnicode?.(name) === true,
    )
    : null;
  const problems = [...settings.problems, ...options.problems, ...(proxy?.problem ? [proxy.problem] : [])];
  const clearText = clearTextSecrets(sink, options.headers);
  if (clearText) problems.push(clearText);
  if (spoolRefused) problems.push(`the spool directory cannot be used: ${spoolRefused}`);
  // Runs spool without trying it, whatever their way out at exit says (a later run tries again; `flush` now).
  if (backlog?.health.isOpen()) problems.push(downUntil(backlog.health));
  const keptSince = Date.now() - options.spoolLimits.maxAgeMs;
  const drops = backlog && sink.kind === "http" ? endpointDrops(backlog, sink.url, keptSince) : undefined;
  if (drops) {
    problems.push(
      `runs and senders dropped ${shownDrops(drops.dropped, formatTimestamp(drops.since))}`,
    );
  }
  if (consent.fileProblem) {
    const file = consent.path === undefined ? "the consent file" : `the consent file ${consent.path}`;
    problems.push(`${file} ${consent.fileProblem}, so it is read as disabled`);
  }
  // A spool a run could not open is none; where telemetry is off or nothing is sent, none is opened: the one runs use.
  const spoolDir = (enabled && sink.kind === "http" ? backlog?.spool.dir : options.spoolDir) ?? null;
  return {
    endpoint: sink.kind === "http" ? redact(sink.url) : sink.kind === "stderr" ? "stdout" : null,
    endpointSource,
    format,
    formatSource: options.formatSetBy,
    proxy,
    spoolDir,
    noSpool: spoolDir === null ? whyNoSpool(spoolRefused, options) : null,
    atExit: decision.handOff ? { handOff: true } : {
      handOff: false,
      // Why no sender; and, where the events cannot leave in process either, the permission that keeps them.
      reason: enabled && decision.outcome === "dropped" && sink.kind === "http" && !host().canConnect(sink.url)
        ? `the program may not connect to the endpoint (its permissions), and ${decision.reason}`
        : decision.reason,
      outcome: decision.outcome,
    },
    problems,
    optionProblems: options.problems,
  };
}

function status(
  output: CliOutput,
  json: boolean,
  changeWith?: string,
  handler: NATTelemetryHandlerOptions = {},
): number {
  const consent = effectiveConsent();
  const settings = settingsInForce(consent, handler);
  // The program may have turned it the other way itself (setTelemetryEnabled, from a setting of its own).
  const enabled = isTelemetryEnabled();
  const byProgram = enabled !== consent.enabled;
  if (json) {
    output.out(`${
      JSON.stringify({
        enabled,
        source: byProgram ? "program" : consent.source,
        consentFile: consent.path ?? null,
        fileState: consent.fileState,
        overriddenByEnvironment: overrideNote(consent) !== undefined,
        ...(consent.fileProblem ? { fileProblem: consent.fileProblem } : {}),
        ...settings,
      })
    }\n`);
    return 0;
  }
  output.out(`Telemetry: ${paint(output, enabled ? "enabled" : "disabled", enabled)}\n`);
  output.out(
    `Decided by: ${
      byProgram ? `the program (setTelemetryEnabled), over ${describeSource(consent)}` : describeSource(consent)
    }\n`,
  );
  const note = overrideNote(consent);
  if (note) output.out(`Note: ${note}\n`);
  if (changeWith) output.out(`Change it with: ${changeWith} enable | disable\n`);
  output.out(
    settings.endpoint === null
      ? `Endpoint: none (${settings.endpointSource})\n`
      : `Endpoint: ${settings.endpoint} (${settings.endpointSource})\n`,
  );
  output.out(`Format: ${settings.format} (${settings.formatSource})\n`);
  const { proxy } = settings;
  if (proxy) {
    const shown = proxy.route === "proxy"
      ? proxy.proxy
      : { direct: "none", unusable: "none usable", unknown: "not known" }[proxy.route];
    output.out(`Proxy: ${shown} (${proxy.because})\n`);
  }
  output.out(`Spool: ${settings.spoolDir ?? `none (${settings.noSpool})`}\n`);
  output.out(
    settings.atExit.handOff
      ? "At exit: events are handed off to a sender process\n"
      : enabled && settings.atExit.outcome === "delivered"
      ? `At exit: events are delivered in process (${settings.atExit.reason})\n`
      : enabled && settings.atExit.outcome === "spooled"
      ? `At exit: events are spooled for a later run (${settings.atExit.reason})\n`
      : `At exit: nothing is delivered (${settings.atExit.reason})\n`,
  );
  for (const problem of settings.problems) output.out(`Problem: ${problem}\n`);
  return 0;
}

/** Records the decision; for `disable`, clears the spool of the resolved options (an `Error` where they are wrong). */
function decide(
  output: CliOutput,
  state: "enabled" | "disabled",
  program: string,
  options: ResolvedOptions | Error = resolveOptions({}),
): number {
  const before = effectiveConsent();
  let why = "";
  const saved = saveConsent(state, before.path, (refusal) => why = refusal);
  if (!saved) {
    output.err(
      `${program}: could not save the decision to ${before.path ?? "the consent file"} (${why}); ` +
        `the decision it holds (${
          before.fileProblem
            ? `unknown: it ${before.fileProblem}`
            : before.fileState === "never_asked"
            ? "none"
            : before.fileState
        }) ` +
        "is unchanged.\n",
    );
    // An opt-out that cannot be saved still deletes what waits to be sent: the user asked that nothing more goes.
    if (state === "enabled") return 1;
  } else {
    output.out(`Telemetry ${state}: saved to ${before.path}.\n`);
  }
  let code = saved ? 0 : 1;
  if (state === "disabled" && options instanceof Error) {
    output.err(
      `${program}: could not tell where events wait to be deleted: ${options.message}. They will not be sent while ` +
        "telemetry is disabled.\n",
    );
    code = 1;
  } else if (state === "disabled" && !(options instanceof Error)) {
    const files = host().files;
    let [deleted, underWay] = [0, 0];
    for (const dir of [options.spoolDir, spoolFallbackOf(options, files)]) {
      if (dir === undefined) continue;
      if (files && !files.allowed(dir, "read")) {
        // Deno's permissions keep this program out (as the narrowest set keeps it out of the temporary directory):
        // none of its runs spooled there, and what others did waits unsent while the no stands.
        output.out(
          `Note: this program may not look in ${dir} (its permissions): events other programs spooled there, if ` +
            "any, are not sent while telemetry is disabled.\n",
        );
        continue;
      }
      // No spool there (never made, or its parent missing): nothing waits, and none is made just to be emptied.
      if (files && files.realPath(dir) === undefined) continue;
      let why = "no file access";
      const spool = files &&
        Spool.open(dir, files, options.spoolLimits, backlogKey(options), (refusal) => why = refusal);
      const cleared = spool?.clear(Date.now());
      if (spool) removeSenderScripts(files, spool.dir, "none");
      if (cleared === undefined) {
        // Events may wait there that a later run, once the directory is usable, would send: the user must know.
        output.err(
          `${program}: could not delete the events waiting in ${dir} (${why}); delete its e-*.jsonl files ` +
            "yourself to be sure they are never sent.\n",
        );
        code = 1;
      } else {
        deleted += cleared.deleted;
        underWay += cleared.claimed;
      }
    }
    // What a run or sender holds may be in a request already under way: that one ends as it may.
    const wire = underWay > 0
      ? `, but for ${underWay} a run or sender held, which a request under way may deliver`
      : "";
    if (deleted > 0) output.out(`Deleted ${deleted} spooled event(s): none of them is sent from now on${wire}.\n`);
  }
  const after = effectiveConsent();
  const note = overrideNote(after) ??
    (after.fileProblem ? `this program reads it as disabled: it ${after.fileProblem}.` : undefined);
  if (note) output.out(`Note: ${note}\n`);
  return code;
}

/**
 * The spool a handler with no options would use, or (`look`) only to look in; `movedFrom` says why its place could
 * not be used, where runs keep it elsewhere (what they left there before waits until it can be used again).
 */
function openSpool(
  refused?: (why: string) => void,
  use: "work" | "look" | "flush" = "work",
):
  | {
    spool: Spool;
    options: ResolvedOptions;
    files: NonNullable<ReturnType<typeof host>["files"]>;
    movedFrom: string | undefined;
  }
  | undefined {
  const options = resolveOptions({});
  const files = host().files;
  let movedFrom: string | undefined;
  const spool = files && openOptionsSpool(options, files, (why, keptIn, notYet) => {
    // Where the place is not there yet (only looked at), runs would make it: they keep the spool there, not here.
    if (keptIn && !notYet) movedFrom = why;
    refused?.(why);
  }, use);
  return spool && files ? { spool, options, files, movedFrom } : undefined;
}

/** The note `flush` and `inspect` print where runs keep the spool elsewhere than its place. */
function movedNote(movedFrom: string | undefined): string {
  return movedFrom
    ? `Note: runs keep the spool here, as its place cannot be used (${movedFrom}); what runs left there before ` +
      "is not counted, and waits until it can be used again.\n"
    : "";
}

/**
 * What waits in the fallback beside a spool kept in its place (runs kept the spool there while the place could not be
 * used, and move it as they run): where, and how many events; `undefined` for none.
 */
function waitingInFallback(
  { spool, options, files }: NonNullable<ReturnType<typeof openSpool>>,
): { dir: string; events: number } | undefined {
  const kept = fallbackBeside(spool, spoolFallbackOf(options, files), files, options.spoolLimits, "look");
  const events = kept ? eventsIn(kept.peek()) : 0;
  return kept && events > 0 ? { dir: kept.dir, events } : undefined;
}

/** How many events spool files hold. */
function eventsIn(files: readonly { events: readonly unknown[] }[]): number {
  return files.reduce((sum, file) => sum + file.events.length, 0);
}

/** How long `flush` may deliver. */
const FLUSH_TIME_MS = 30_000;

async function flush(output: CliOutput): Promise<number> {
  let why = "no spool directory, or no file access";
  // What waits in the fallback for this endpoint moves here at once: the user asks to deliver now.
  const opened = openSpool((refusal) => why = refusal, "flush");
  if (!opened) {
    output.err(`nat-telemetry: there is no spool (${why}).\n`);
    return 1;
  }
  if (!effectiveConsent().enabled) {
    output.err("nat-telemetry: telemetry is disabled; nothing was sent.\n");
    return 1;
  }
  const { spool, options, files } = opened;
  if (options.sink.kind !== "http") {
    const why = options.sink.kind === "stderr"
      ? 'the endpoint is "stdout"'
      : `nothing is sent (${options.sink.reason})`;
    output.err(`nat-telemetry: ${why}: the spooled events are left as they are.\n`);
    return 1;
  }
  // The user asks to try now: the endpoint's failures are forgotten, those of programs with a fetch of their own too.
  const url = options.sink.url;
  const ofUrl = healthHash(url);
  for (const { hash, endpointHash } of recordedHealth(files, spool.dir, Date.now())) {
    if (endpointHash === ofUrl) {
      const ownFetchKey = hash === ofUrl ? undefined : hash;
      new EndpointHealth(files, spool.dir, url, Date.now, randomFraction, ownFetchKey).forget();
    }
  }
  // Pass after pass, as a sender does (one pass takes at most 64 files), while passes make progress; in the spool
  // opened here (the platform's place, or the one runs keep where it cannot be used).
  const stats = await drainSpool({ spoolDir: spool.dir }, host().monotonicMs() + FLUSH_TIME_MS);
  const dropped = Object.values(stats.dropped).reduce((sum, n) => sum + n, 0);
  // What another run has claimed is that run's to deliver, and other endpoints' events are not ours: not "left".
  const peeked = spool.peek();
  const ours = peeked.filter((file) => file.ours);
  const [left, held] = [eventsIn(ours.filter((file) => !file.claimed)), eventsIn(ours.filter((file) => file.claimed))];
  // Nor are those of programs that send otherwise (headers, a fetch of their own): said, lest "0 left" read as none.
  const theirs = eventsIn(peeked.filter((file) => !file.ours));
  /** When another run may take over what is held: after the one end, or between the first and the last. */
  const takeOver = () => {
    const ends = ours.flatMap((file) => file.until ?? []);
    const [first, last] = [Math.min(...ends), Math.max(...ends)].map(formatTimestamp);
    return first === last ? `after ${last}` : `between ${first} and ${last}`;
  };
  const others = held > 0
    ? ` (${held} held by another run, which delivers them, or another run may take them over ${takeOver()})`
    : "";
  const elsewhere = theirs > 0
    ? `; ${theirs} more for other endpoints or programs, which their runs deliver (see inspect)`
    : "";
  output.out(`Delivered ${stats.sent} event(s); dropped ${dropped}; ${left} left in the spool${others}${elsewhere}.\n`);
  output.out(movedNote(opened.movedFrom));
  return left === 0 ? 0 : 1;
}

/** One endpoint as `inspect` shows it: where its spooled events wait, and its health. */
interface EndpointReport {
  /** Its URL; `null` when no file names it (events of an older version, or a health file without its URL). */
  endpoint: string | null;
  /** The wire format its events are in, when known. */
  format: "nat" | "otlp" | null;
  /** The spool key of its events (`null` for files of older versions, which name none). */
  key: string | null;
  /** Its spooled events. */
  events: number;
  /** Its recorded state: `null` when healthy, `"unknown"` when it cannot be told which health file is its. */
  health: { failures: number; notBefore: string } | null | "unknown";
  /** What runs and senders dropped for it (no one reads their counts), by reason, and since and until when; `null` when nothing. */
  droppedBySenders: { dropped: Record<string, number>; since: string; last: string } | null;
}

/**
 * What runs and senders dropped for an endpoint, summed over the spool keys of its programs (a version, headers make keys of
 * their own, and `status` is run without them): the key in force, and every record that names the endpoint.
 */
function endpointDrops(
  backlog: Backlog,
  url: string,
  keptSince: number,
): { dropped: Record<string, number>; since: number } | undefined {
  const records = dropsRecords(backlog.files, backlog.spool.dir, keptSince)
    .filter((record) => record.key === backlog.spool.key || record.endpointHash === shortHash(url));
  if (records.length === 0) return undefined;
  const dropped: Record<string, number> = {};
  for (const record of records) for (const [reason, n] of Object.entries(record.dropped)) addCount(dropped, reason, n);
  return { dropped, since: Math.min(...records.map((record) => record.since)) };
}

/** What runs and senders dropped, in a line: how many, by reason, since when (a timestamp as shown). */
function shownDrops(dropped: Readonly<Record<string, number>>, since: string): string {
  const reasons = Object.entries(dropped);
  const total = reasons.reduce((sum, [, n]) => sum + n, 0);
  return `${total} event(s) since ${since} (${reasons.map(([reason, n]) => `${reason}: ${n}`).join(", ")})`;
}

/**
 * The health recorded for an endpoint, if any: its file is named by a hash of its URL, for a program with a `fetch`
 * of its own by its spool key ({@link healthHash}).
 */
function recordedState(
  recorded: ReturnType<typeof recordedHealth>,
  url: string,
  ownFetchKey?: string,
): HealthState | undefined {
  return recorded.find((entry) => entry.hash === healthHash(url, ownFetchKey))?.state;
}

/** A recorded health as `inspect` shows it. */
function shownHealth(state: HealthState): { failures: number; notBefore: string } {
  return { failures: state.failures, notBefore: formatTimestamp(state.notBefore) };
}

/** The endpoints that have spooled events (and the one in force), with the health recorded for each. */
function endpointReports(
  opened: NonNullable<ReturnType<typeof openSpool>>,
  recorded: ReturnType<typeof recordedHealth>,
): EndpointReport[] {
  const { spool, options } = opened;
  // Health files are named by a hash of the URL, and newer ones carry the URL: every endpoint they or the
  // options name, by the spool key its events would carry in each format.
  const keptSince = Date.now() - options.spoolLimits.maxAgeMs;
  const drops = new Map<string, DropsRecord>(
    dropsRecords(opened.files, spool.dir, keptSince).map(({ key, ...record }) => [key, record]),
  );
  // A URL a drop record could not hold (credentials, a query) is known by its hash where it is the endpoint in force.
  const inForce = options.sink.kind === "http" ? { url: options.sink.url, hash: shortHash(options.sink.url) } : null;
  const urls = [...recorded, ...drops.values()].flatMap((entry) => entry.endpoint ?? []);
  if (options.sink.kind === "http") urls.unshift(options.sink.url);
  const known = new Map<string, { endpoint: string; format: "nat" | "otlp" }>();
  for (const endpoint of urls) {
    for (const format of ["nat", "otlp"] as const) known.set(spoolKey(endpoint, format), { endpoint, format });
  }
  // The key in force also names what the options add to it (OTLP's resource, a version, headers).
  if (options.sink.kind === "http") known.set(spool.key, { endpoint: options.sink.url, format: options.format.name });
  const counts = new Map<string | null, number>();
  for (const file of spool.peek()) {
    counts.set(file.key ?? null, (counts.get(file.key ?? null) ?? 0) + file.events.length);
  }
  if (options.sink.kind === "http" && !counts.has(spool.key)) counts.set(spool.key, 0);
  for (const key of drops.keys()) if (!counts.has(key)) counts.set(key, 0);
  // A program with a fetch of its own records its health under its key: shown with that key's events.
  const ownFetchHealth = new Map(
    recorded.filter((entry) => entry.endpointHash !== entry.hash).map((entry) => [entry.hash, entry]),
  );
  for (const key of ownFetchHealth.keys()) if (!counts.has(key)) counts.set(key, 0);
  // A key no file names may be a program's with headers, whose health is its URL's, on any endpoint recorded down
  // (or one an older version's health file does not name): which, cannot be told.
  const urlRecorded = recorded.some((entry) => entry.endpointHash === entry.hash);
  return [...counts].flatMap(([key, events]) => {
    const dropped = key === null ? undefined : drops.get(key);
    // A key with more than the URL and format in it (a version, headers) is named by what its senders recorded.
    const own = key === null ? undefined : ownFetchHealth.get(key);
    const endpointHash = dropped?.endpointHash ?? own?.endpointHash;
    const endpoint = dropped?.endpoint ?? own?.endpoint ??
      (inForce !== null && endpointHash === inForce.hash ? inForce.url : undefined);
    const named = key === null
      ? undefined
      : known.get(key) ?? (endpoint === undefined ? undefined : { endpoint, format: null });
    const state = own?.state ?? (named && recordedState(recorded, named.endpoint));
    if (events === 0 && !state && !dropped) return [];
    return [{
      endpoint: named ? redact(named.endpoint) : null,
      format: named?.format ?? null,
      key,
      events,
      health: state ? shownHealth(state) : !named && urlRecorded ? "unknown" as const : null,
      droppedBySenders: dropped
        ? {
          dropped: { ...dropped.dropped },
          since: formatTimestamp(dropped.since),
          last: formatTimestamp(dropped.last),
        }
        : null,
    }];
  });
}

/**
 * Why there is no spool: the directory's refusal, else why the options have none, and why the temporary directory
 * could not take it where it could have.
 */
function whyNoSpool(refused: string | undefined, options: ResolvedOptions): string {
  if (refused) return refused;
  const files = host().files;
  if (!files) return "the runtime gives no file access";
  const without = options.noSpool ?? "there is no spool directory";
  return options.spoolFallback && files.uid === undefined && runtimeInfo().os !== "win32"
    ? `${without}; nor in the temporary directory, whose place is named by the user's id, which the program may ` +
      "not know (its permissions)"
    : without;
}

function inspect(output: CliOutput, json: boolean): number {
  let why: string | undefined;
  const opened = openSpool((refusal) => why = refusal, "look");
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
  // Read as recorded, never through EndpointHealth, which removes a file it finds invalid: inspect only looks.
  const recorded = opened ? recordedHealth(opened.files, opened.spool.dir, Date.now()) : [];
  const sink = opened?.options.sink;
  const ownFetchKey = opened?.options.customFetch ? opened.spool.key : undefined;
  const state = sink?.kind === "http" ? recordedState(recorded, sink.url, ownFetchKey) : undefined;
  const health = state ? shownHealth(state) : { failures: 0, notBefore: null };
  const endpoints = opened ? endpointReports(opened, recorded) : [];
  const corrupt = files.reduce((sum, file) => sum + file.corrupt, 0);
  const fallback = (opened && waitingInFallback(opened)) ?? null;
  if (json) {
    const placeRefused = opened?.movedFrom ?? null;
    const spoolDir = opened?.spool.dir ?? null;
    output.out(`${JSON.stringify({ spoolDir, placeRefused, events, corrupt, health, endpoints, fallback })}\n`);
    return 0;
  }
  output.out(`Spool: ${opened?.spool.dir ?? `none (${whyNoSpool(why, resolveOptions({}))})`}\n`);
  output.out(movedNote(opened?.movedFrom));
  if (fallback) {
    output.out(
      `Note: ${fallback.events} more event(s) wait in ${fallback.dir}, where runs kept the spool while this place could ` +
        "not be used: runs of their endpoints move them here (`flush` moves this endpoint's at once).\n",
    );
  }
  output.out(`${events.length} spooled event(s)\n`);
  if (corrupt > 0) {
    output.out(`${corrupt} more that cannot be read (malformed, or a file not the user's own): a run drops them\n`);
  }
  for (const event of events) {
    const p = event.parameters;
    const what = event.name === "nat_cli_command" ? `${p.command} ${p.taskStatus} exit=${p.exitCode}` : "";
    output.out(
      `  ${event.ts}  ${event.name}  ${what}  retries=${event.retries}${event.claimed ? "  (claimed)" : ""}\n`,
    );
  }
  output.out(endpoints.length === 0 ? "Endpoints: none with spooled events or recorded failures\n" : "Endpoints:\n");
  for (const report of endpoints) {
    const name = report.endpoint === null
      ? `an endpoint no file names, or another program or version (${
        report.key === null ? "events of an older version" : `key ${report.key}`
      })`
      : report.format === null
      ? `${report.endpoint} (key ${report.key}: another program or version)`
      : `${report.endpoint} (${report.format})`;
    const health = report.health === "unknown"
      ? "health unknown"
      : report.health
      ? `down after ${report.health.failures} failure(s); next try after ${report.health.notBefore}`
      : "no recorded failure";
    const drops = report.droppedBySenders;
    const dropped = drops ? `; runs and senders dropped ${shownDrops(drops.dropped, drops.since)}` : "";
    output.out(`  ${name}: ${report.events} spooled event(s); ${health}${dropped}\n`);
  }
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

// Running this file from a checkout runs the command, in every runtime (the published package runs it from
// nat_telemetry.ts: bundled into a program, this module would be its main module). No top-level await, so that
// `require()` and CommonJS bundles of a program that imports this module work.
if (import.meta.main) void main(host().args()).then((code) => host().setExitCode(code));
