/**
 * Telemetry events: the {@link TelemetryEvent} base every event type extends,
 * the `nat_cli_command` event ({@link CliCommandEvent}) and the value sets of
 * schema 1.5.
 *
 * @module
 */
import { reportableClassName, reportableName } from "./command_name.ts";
import { choices, describe, isPlainObject, unknownOption } from "./describe.ts";
import { runtimeInfo } from "./runtime/mod.ts";

/** The schema version events use unless they say otherwise. */
export const DEFAULT_SCHEMA_VERSION = "1.5";

/**
 * Bytes an envelope may grow by when its events carry a longer schema version than the default (JSON-encoded, as
 * the envelope carries it): kept free between `maxBatchBytes` and the largest event accepted; an event whose
 * schema version is longer is refused at enqueue (`invalid_event`).
 *
 * @example
 * ```ts
 * import { SCHEMA_VERSION_SLACK_BYTES } from "./events.ts";
 * SCHEMA_VERSION_SLACK_BYTES; // 64
 * ```
 */
export const SCHEMA_VERSION_SLACK_BYTES = 64;

/**
 * How a command ended, as schema 1.5 spells it.
 *
 * @example
 * ```ts
 * import { TaskStatus } from "@nat/telemetry";
 * TaskStatus.SUCCESS; // "success"
 * ```
 */
export const TaskStatus: {
  readonly SUCCESS: "success";
  readonly FAILURE: "failure";
  readonly COMPLETED: "completed";
  readonly ERROR: "error";
  readonly CANCELED: "canceled";
  readonly INTERRUPTED: "interrupted";
  readonly UNDEFINED: "undefined";
} = Object.freeze({
  SUCCESS: "success",
  FAILURE: "failure",
  COMPLETED: "completed",
  ERROR: "error",
  CANCELED: "canceled",
  INTERRUPTED: "interrupted",
  UNDEFINED: "undefined",
});
/** One of the {@link TaskStatus} values. */
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

/**
 * Which NeMo product sent an event, as schema 1.5 spells it.
 *
 * @example
 * ```ts
 * import { NemoSource } from "@nat/telemetry";
 * NemoSource.AGENT_TOOLKIT; // "agent_toolkit"
 * ```
 */
export const NemoSource: {
  readonly INFERENCE: "inference";
  readonly AUDITOR: "auditor";
  readonly DATADESIGNER: "datadesigner";
  readonly EVALUATOR: "evaluator";
  readonly GUARDRAILS: "guardrails";
  readonly SAFE_SYNTHESIZER: "safe-synthesizer";
  readonly ANONYMIZER: "anonymizer";
  readonly AGENT_TOOLKIT: "agent_toolkit";
  readonly UNDEFINED: "undefined";
} = Object.freeze({
  INFERENCE: "inference",
  AUDITOR: "auditor",
  DATADESIGNER: "datadesigner",
  EVALUATOR: "evaluator",
  GUARDRAILS: "guardrails",
  SAFE_SYNTHESIZER: "safe-synthesizer",
  ANONYMIZER: "anonymizer",
  AGENT_TOOLKIT: "agent_toolkit",
  UNDEFINED: "undefined",
});
/** One of the {@link NemoSource} values. */
export type NemoSource = (typeof NemoSource)[keyof typeof NemoSource];

/** A parameter value the wire format accepts: no `null`, no nesting. */
export type ParameterValue = string | number | boolean;

/** An event's parameters, in the order they go on the wire. */
export type EventParameters = Readonly<Record<string, ParameterValue>>;

/** Options every event accepts. */
export interface TelemetryEventOptions {
  /** The schema version of this event type. @default {"1.5"} */
  schemaVersion?: string | undefined;
  /** When the event happened, as a `Date` or epoch milliseconds. @default {Date.now()} */
  timestamp?: Date | number | undefined;
}

/**
 * The base of every telemetry event. A subclass passes its event name to
 * `super()` and implements {@link TelemetryEvent.parameters}; an event type
 * without a name does not compile, and throws a `TypeError` in JavaScript.
 *
 * @example
 * ```ts
 * import { TelemetryEvent, type EventParameters } from "@nat/telemetry";
 *
 * class ModelDownloadEvent extends TelemetryEvent {
 *   readonly model: string;
 *   constructor(model: string) {
 *     super("model_download");
 *     this.model = model;
 *   }
 *   parameters(): EventParameters {
 *     return { model: this.model };
 *   }
 * }
 * new ModelDownloadEvent("llama").name; // "model_download"
 * ```
 */
export abstract class TelemetryEvent {
  /** The event's name on the wire, e.g. `nat_cli_command`. */
  readonly name: string;
  /** The schema version of the event's parameters. */
  readonly schemaVersion: string;
  /** When the event happened, in epoch milliseconds. */
  readonly timestamp: number;

  /**
   * Declares the event type's name.
   *
   * @param name The event's name on the wire; a non-empty string.
   * @param options The schema version and timestamp.
   * @throws {TypeError} When the name is missing or not a string, or the class is not a subclass.
   */
  protected constructor(name: string, options: TelemetryEventOptions = {}) {
    if (isAbstractEvent(new.target)) {
      throw new TypeError("Cannot create event: TelemetryEvent is abstract, extend it");
    }
    if (typeof name !== "string" || name.length === 0) {
      throw new TypeError(
        `Cannot create event: an event type must declare a name (pass it to super()), got ${describe(name)}`,
      );
    }
    const schemaVersion = options.schemaVersion ?? DEFAULT_SCHEMA_VERSION;
    if (typeof schemaVersion !== "string" || schemaVersion.length === 0) {
      throw new TypeError(
        `Cannot create event: 'schemaVersion' must be a non-empty string, got ${describe(schemaVersion)}`,
      );
    }
    const timestamp = options.timestamp === undefined ? Date.now() : +options.timestamp;
    if (!Number.isFinite(timestamp)) {
      throw new TypeError(`Cannot create event: 'timestamp' must be a valid Date or epoch milliseconds`);
    }
    this.name = name;
    this.schemaVersion = schemaVersion;
    this.timestamp = timestamp;
  }

  /**
   * The event's parameters, in wire order. Values must be strings, finite
   * numbers or booleans; an event with any other value is dropped and counted.
   *
   * @returns The parameters.
   */
  abstract parameters(): EventParameters;
}

/**
 * Whether a constructor is TelemetryEvent itself. Outside the class: a class that names itself in its own body
 * is renamed by bundlers (esbuild's `_TelemetryEvent`), and the published bundle must keep its name.
 */
function isAbstractEvent(target: unknown): boolean {
  return target === TelemetryEvent;
}

/** The fields of a {@link CliCommandEvent}, in camelCase. */
export interface CliCommandEventInit extends Pick<TelemetryEventOptions, "timestamp"> {
  /** The product that ran the command. @default {"agent_toolkit"} */
  nemoSource?: NemoSource | undefined;
  /**
   * The command, e.g. `run`: a name the program fixes. `undefined` (`process.argv[2]` when the user typed nothing),
   * a number (what an argument parser makes of `mycli 42`) and what is plainly not a command's name (a path, a URL,
   * an address: a user's text passed on) are recorded as `"undefined"`, as `trackCommand` records them, the debug
   * trail saying why: only a missing key, or a value of another type, throws.
   */
  command: string | number | undefined;
  /**
   * The subcommand, from a fixed list, never user text (what is plainly no name, or a number, is recorded as
   * `"undefined"`).
   */
  subcommand?: string | number | undefined;
  /** How the command ended. */
  taskStatus: TaskStatus;
  /** How long the command ran, in milliseconds (truncated); -1 when unknown. @default {-1} */
  durationMs?: number | undefined;
  /**
   * The command's exit code; -1 when unknown: an integer, or a string the runtimes take for one, as `process.exitCode`
   * may hold under Deno (`"1"`). @default {-1}
   */
  exitCode?: number | string | undefined;
  /**
   * The class of the error that ended the command (`ValueError`), never its message: what is no class's name is
   * recorded as `"undefined"`. @default {"undefined"}
   */
  errorClass?: string | undefined;
  /**
   * The schema's slot for the runtime. The Python client sends its Python
   * version; this client sends the runtime and its version.
   * @default {"deno/2.9.6", "node/24.9.0" or "bun/1.4.5" (the running one)}
   */
  pythonVersion?: string | undefined;
}

/** Every field of {@link CliCommandEventInit}: a key not here is a typo (or the Python handler's snake_case). */
const CLI_COMMAND_FIELDS: Record<keyof CliCommandEventInit, true> = {
  nemoSource: true,
  command: true,
  subcommand: true,
  taskStatus: true,
  durationMs: true,
  exitCode: true,
  errorClass: true,
  pythonVersion: true,
  timestamp: true,
};

/**
 * The `nat_cli_command` event (schema 1.5): one CLI command and how it ended.
 *
 * @example
 * ```ts
 * import { CliCommandEvent } from "@nat/telemetry";
 * const event = new CliCommandEvent({ command: "run", taskStatus: "success", durationMs: 12, exitCode: 0 });
 * event.parameters().subcommand; // "undefined"
 * ```
 */
export class CliCommandEvent extends TelemetryEvent {
  /** The fields, with defaults applied. */
  readonly fields: Readonly<{
    nemoSource: NemoSource;
    command: string;
    subcommand: string;
    taskStatus: TaskStatus;
    durationMs: number;
    exitCode: number;
    errorClass: string;
    pythonVersion: string;
  }>;

  /**
   * Creates the event.
   *
   * @param init The event's fields.
   * @throws {TypeError} When a field has the wrong type or is not in its value set.
   * @throws {RangeError} When `durationMs` is infinite. One below -1 (a clock stepped back while the command ran, as
   *   `Date.now() - started` measures it) is recorded as -1, unknown.
   */
  constructor(init: CliCommandEventInit) {
    const wrong = isPlainObject(init)
      ? unknownOption(init, CLI_COMMAND_FIELDS)?.replace("is not an option", "is not a field")
      : `its fields must be an object, got ${describe(init)}`;
    if (wrong) throw new TypeError(`Cannot create event: ${wrong}`);
    super("nat_cli_command", { timestamp: init.timestamp });
    const given = init.durationMs ?? -1;
    if (typeof given !== "number" || Number.isNaN(given)) {
      throw new TypeError(`Cannot create event: 'durationMs' must be a number, got ${describe(given)}`);
    }
    if (!Number.isFinite(given)) {
      throw new RangeError(`Cannot create event: 'durationMs' must be finite, got ${given}`);
    }
    // Below -1 is what a clock stepped back (NTP) makes of a duration: a run's data, not a mistake to throw at a
    // user; it is not known.
    const durationMs = Math.max(given, -1);
    const exitCode = exitCodeOf(init.exitCode ?? -1);
    if (exitCode === undefined) {
      throw new TypeError(`Cannot create event: 'exitCode' must be an integer, got ${describe(init.exitCode)}`);
    }
    this.fields = Object.freeze({
      nemoSource: oneOf("nemoSource", init.nemoSource ?? NemoSource.AGENT_TOOLKIT, NemoSource),
      // A run's data (nothing typed, a number typed: minimist and yargs parse `mycli scale 3` so) must not throw at a
      // user; a command left out is the code's, and does. What is plainly no name the program fixes (a path, an
      // address: a user's text passed on) is not sent.
      command: reportableName(
        "command",
        text("command", Object.hasOwn(init, "command") ? typed(init.command) : undefined),
      ),
      subcommand: reportableName("subcommand", text("subcommand", typed(init.subcommand))),
      taskStatus: oneOf("taskStatus", init.taskStatus, TaskStatus),
      durationMs: Math.trunc(durationMs),
      exitCode,
      errorClass: reportableClassName(text("errorClass", init.errorClass ?? "undefined")),
      pythonVersion: text("pythonVersion", init.pythonVersion ?? runtimeLabel()),
    });
  }

  /**
   * The schema-1.5 parameters in wire order.
   *
   * @returns `nemoSource`, `command`, `subcommand`, `taskStatus`, `durationMs`, `exitCode`, `errorClass`, `pythonVersion`.
   */
  parameters(): EventParameters {
    return { ...this.fields };
  }
}

/** The runtime and its version, e.g. `deno/2.9.6`: what we report in the `pythonVersion` slot. */
function runtimeLabel(): string {
  const { name, version } = runtimeInfo();
  return version ? `${name}/${version}` : name;
}

/** A name as the run's user typed it: nothing typed, or a number typed, is `"undefined"`. */
function typed(value: unknown): unknown {
  return value === undefined || typeof value === "number" ? "undefined" : value;
}

/**
 * The exit code a value sets where a program passes it on (`process.exitCode = value`): a safe integer, or a string
 * the runtimes take for one as Node.js does (`"2"`, `"0x2"`, `"-1"`; not `"1e300"`, which Node.js refuses);
 * `undefined` for anything else.
 *
 * @param value What the program passes on.
 * @returns The exit code, or `undefined`.
 * @example
 * ```ts
 * import { exitCodeOf } from "./events.ts";
 * exitCodeOf("2"); // 2
 * ```
 */
export function exitCodeOf(value: unknown): number | undefined {
  const code = typeof value === "string" && value !== "" ? Number(value) : value;
  return typeof code === "number" && Number.isSafeInteger(code) ? code : undefined;
}

function text(field: string, value: unknown): string {
  if (typeof value !== "string") {
    throw new TypeError(`Cannot create event: '${field}' must be a string, got ${describe(value)}`);
  }
  return value;
}

function oneOf<T extends string>(field: string, value: unknown, values: Readonly<Record<string, T>>): T {
  // A loop, not Object.values(): this runs for every event, and Deno's Object.values allocates slowly.
  for (const key in values) if (values[key] === value) return value as T;
  throw new TypeError(
    `Cannot create event: '${field}' must be one of ${choices(Object.values(values))}, got ${describe(value)}`,
  );
}
