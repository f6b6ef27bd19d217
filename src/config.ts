/**
 * Settings from the environment: the endpoint, dry run, session prefix and
 * where the spool lives, and how yes/no values are read.
 *
 * @module
 */
import { otlpEndpointFromEnv, parseOtelList } from "./otlp.ts";
import { host, runtimeInfo } from "./runtime/mod.ts";

/** Where events go when neither the `endpoint` option nor `NAT_TELEMETRY_ENDPOINT` says otherwise. */
export const DEFAULT_ENDPOINT = "https://events.telemetry.data.nvidia.com/v1.1/events/json";

/**
 * Reads a yes/no environment value: `1`, `true` and `yes` (trimmed, any case)
 * are yes; any other value, the empty string included, is no.
 *
 * @param value The raw value, or `undefined` when unset.
 * @returns `true` or `false`, or `undefined` when unset.
 * @example
 * ```ts
 * import { parseFlag } from "./config.ts";
 * parseFlag(" YES "); // true
 * parseFlag(""); // false
 * parseFlag(undefined); // undefined
 * ```
 */
export function parseFlag(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  return ["1", "true", "yes"].includes(value.trim().toLowerCase());
}

/** The handler settings the environment can change. */
export interface EnvironmentSettings {
  /** `NAT_TELEMETRY_ENDPOINT`, when set (possibly empty). */
  endpoint: string | undefined;
  /** `NAT_TELEMETRY_DRY_RUN` is set to a yes value. */
  dryRun: boolean;
  /** `NAT_SESSION_PREFIX`, or `""`. */
  sessionPrefix: string;
  /** Where the spool lives, or `undefined` when there is nowhere (see {@link defaultSpoolDir}). */
  spoolDir: string | undefined;
  /** `NAT_TELEMETRY_HANDOFF`: `true`/`false` when set, else `"auto"` (hand off unless in CI). */
  handOff: boolean | "auto";
  /** `CI` is set to anything but `""`, `0` or `false`. */
  ci: boolean;
  /** `NAT_TELEMETRY_FORMAT`, when set. */
  format: string | undefined;
  /** The OTLP logs endpoint from `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  otlpEndpoint: string | undefined;
  /** `OTEL_EXPORTER_OTLP_HEADERS`, then `OTEL_EXPORTER_OTLP_LOGS_HEADERS` (which wins), decoded. */
  otlpHeaders: Record<string, string>;
  /** `OTEL_RESOURCE_ATTRIBUTES`, decoded, with `OTEL_SERVICE_NAME` as `service.name` when set. */
  otlpResource: Record<string, string>;
}

/**
 * Reads the handler's environment settings. Unreadable variables (no Deno
 * `--allow-env`) read as unset.
 *
 * @returns The settings.
 * @example
 * ```ts
 * import { environmentSettings } from "./config.ts";
 * environmentSettings().dryRun; // false unless NAT_TELEMETRY_DRY_RUN=1
 * ```
 */
export function environmentSettings(): EnvironmentSettings {
  const env = host().env;
  return {
    endpoint: env("NAT_TELEMETRY_ENDPOINT"),
    dryRun: parseFlag(env("NAT_TELEMETRY_DRY_RUN")) ?? false,
    sessionPrefix: env("NAT_SESSION_PREFIX") ?? "",
    spoolDir: defaultSpoolDir(env, runtimeInfo().os),
    handOff: parseFlag(env("NAT_TELEMETRY_HANDOFF")) ?? "auto",
    ci: !["", "0", "false"].includes(env("CI")?.trim().toLowerCase() ?? ""),
    format: env("NAT_TELEMETRY_FORMAT"),
    otlpEndpoint: otlpEndpointFromEnv(env),
    otlpHeaders: {
      ...parseOtelList(env("OTEL_EXPORTER_OTLP_HEADERS")),
      ...parseOtelList(env("OTEL_EXPORTER_OTLP_LOGS_HEADERS")),
    },
    otlpResource: {
      ...parseOtelList(env("OTEL_RESOURCE_ATTRIBUTES")),
      ...(env("OTEL_SERVICE_NAME") ? { "service.name": env("OTEL_SERVICE_NAME")! } : {}),
    },
  };
}

/**
 * Where the spool lives: `NAT_TELEMETRY_SPOOL_DIR` (empty: no spool), else
 * `$XDG_STATE_HOME/nat/telemetry`, else the platform's place for state:
 * `~/.local/state/nat/telemetry`, `~/Library/Application Support/nat/telemetry`
 * on macOS, `%LOCALAPPDATA%\nat\telemetry` on Windows.
 *
 * @param env Reads an environment variable.
 * @param os The OS, as Node names it.
 * @returns The directory, or `undefined` when there is none.
 * @example
 * ```ts
 * import { defaultSpoolDir } from "./config.ts";
 * defaultSpoolDir((name) => ({ HOME: "/home/ada" })[name], "linux"); // "/home/ada/.local/state/nat/telemetry"
 * ```
 */
export function defaultSpoolDir(env: (name: string) => string | undefined, os: string): string | undefined {
  const explicit = env("NAT_TELEMETRY_SPOOL_DIR");
  if (explicit !== undefined) return explicit === "" ? undefined : explicit;
  const state = env("XDG_STATE_HOME");
  if (state) return `${state}/nat/telemetry`;
  if (os === "win32") {
    const local = env("LOCALAPPDATA") ?? (env("USERPROFILE") && `${env("USERPROFILE")}\\AppData\\Local`);
    return local ? `${local}\\nat\\telemetry` : undefined;
  }
  const home = env("HOME");
  if (!home) return undefined;
  return os === "darwin" ? `${home}/Library/Application Support/nat/telemetry` : `${home}/.local/state/nat/telemetry`;
}
