/**
 * Settings from the environment: the endpoint, dry run, session prefix and
 * where the spool lives, and how yes/no values are read.
 *
 * @module
 */
import { describe, redact } from "./describe.ts";
import { isFramingHeader, isHeaderName, isHeaderValue } from "./http_fields.ts";
import { OTLP_ENDPOINT_VARIABLES, otlpEndpointFromEnv, parseOtelList, serviceAttributes } from "./otlp.ts";
import { below, isAbsolutePath } from "./runtime/guarded_files.ts";
import { hasAtPastHost } from "./runtime/proxy_settings.ts";
import { hiddenBecause, host, runtimeInfo } from "./runtime/mod.ts";

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

/**
 * Whether this run is in continuous integration ({@link isCI}), `CI` set to what Deno cannot read (not valid Unicode)
 * included: it is set, so a CI service set it.
 *
 * @returns `true` in CI.
 * @example
 * ```ts
 * import { runsInCI } from "./config.ts";
 * if (runsInCI()) console.log("no one to ask");
 * ```
 */
export function runsInCI(): boolean {
  return isCI(host().env("CI")) || host().envNotUnicode?.("CI") === true;
}

/**
 * Whether a test runner runs this code in its own process: a CLI's tests calling its main, where no one is there to
 * answer the consent question and a pending one keeps the runner from ending. Told by what the runners set: Jest's
 * `JEST_WORKER_ID` (set in its main process too, where it runs a few test files itself), Vitest's `VITEST`, and
 * `NODE_ENV=test`, which Jest, Vitest and `bun test` set unless the program did. (`node --test` without isolation
 * is told by the Node.js host's terminal, from the runtime's flags.)
 *
 * @returns `true` under a test runner.
 * @example
 * ```ts
 * import { runsUnderTestRunner } from "./config.ts";
 * if (runsUnderTestRunner()) console.log("no one to ask");
 * ```
 */
export function runsUnderTestRunner(): boolean {
  const { env } = host();
  // Set as `CI` is: to anything but "", 0 or false.
  return env("NODE_ENV") === "test" || isCI(env("JEST_WORKER_ID")) || isCI(env("VITEST"));
}

/**
 * Why the program cannot know a variable's value, for a message: its permissions (Deno's `--allow-env`), or a value
 * Deno cannot read.
 *
 * @param name A variable the host hides (its `envHidden`).
 * @returns `its permissions`, or `its value is not valid Unicode`.
 * @example
 * ```ts
 * import { whyHidden } from "./config.ts";
 * `the program may not read HOME (${whyHidden("HOME")})`;
 * ```
 */
export function whyHidden(name: string): string {
  return hiddenBecause(host().envNotUnicode?.(name) === true, "its permissions");
}

/**
 * Whether `CI` says the program runs in continuous integration: set to anything but `""`, `0` or `false` (as CI
 * services set it: `true`, `1`, a service's name).
 *
 * @param value The value of `CI`, or `undefined` when unset.
 * @returns `true` in CI.
 * @example
 * ```ts
 * import { isCI } from "./config.ts";
 * isCI("true"); // true
 * isCI("0"); // false
 * ```
 */
export function isCI(value: string | undefined): boolean {
  return !["", "0", "false"].includes(value?.trim().toLowerCase() ?? "");
}

/** The values a yes/no variable is read as, besides those {@link parseFlag} reads as yes. */
const UNDERSTOOD_NO = ["", "0", "false", "no", "off"];

/**
 * Whether an endpoint is one this library can use: an http(s) URL, `""`
 * (build payloads, send nothing) or `"stdout"`; see {@link endpointProblem}.
 *
 * @param value The endpoint.
 * @returns `true` when it can be used.
 * @example
 * ```ts
 * import { isEndpoint } from "./config.ts";
 * isEndpoint("https://example.com/events"); // true
 * isEndpoint("ftp://example.com"); // false
 * ```
 */
export function isEndpoint(value: string): boolean {
  return endpointProblem(value) === undefined;
}

/** What {@link httpUrlProblem} says of a text that is no http(s) URL. */
const NOT_HTTP_URL = "is not an http(s) URL";

/** What {@link httpUrlProblem} says first of an http(s) URL with an `@` past its host. */
export const AT_PAST_HOST = "has an '@' past its host";

/**
 * Why a text is no http(s) URL an event may be sent to, where it is not: one with an `@` past its host is not, as a
 * key with a `/`, `?` or `#` in it, not percent-encoded, ends the URL's credentials early and makes a part of it the
 * host (looked up, sent to) and the rest its path.
 *
 * @param value The text.
 * @returns What is wrong with it, to follow its name in a sentence, or `undefined` for a URL that can be used.
 * @example
 * ```ts
 * import { httpUrlProblem } from "./config.ts";
 * httpUrlProblem("https://example.com/events"); // undefined
 * httpUrlProblem("localhost:4318"); // "is not an http(s) URL"
 * httpUrlProblem("https://k3y/base64=@example.com/events"); // "has an '@' past its host: ..." (the host: "k3y")
 * ```
 */
export function httpUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return NOT_HTTP_URL;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return NOT_HTTP_URL;
  if (hasAtPastHost(url)) {
    return `${AT_PAST_HOST}: a key with a '/', '?' or '#' in it, not percent-encoded (%2F, %3F, %23), ` +
      "would make a part of it the host";
  }
  return undefined;
}

/** Why an endpoint cannot be used, as {@link httpUrlProblem} says it, `""` and `"stdout"` named where they could be. */
export function endpointProblem(value: string): string | undefined {
  if (value === "" || value === "stdout") return undefined;
  const problem = httpUrlProblem(value);
  return problem === NOT_HTTP_URL ? `${problem}, "" or "stdout"` : problem;
}

/**
 * The format a setting names (`NAT_TELEMETRY_FORMAT`, the `format` option), in any case, with spaces around.
 *
 * @param value The setting.
 * @returns `"nat"`, `"otlp"`, or `undefined` where it names neither.
 * @example
 * ```ts
 * import { formatNamed } from "./config.ts";
 * formatNamed(" OTLP\n"); // "otlp"
 * ```
 */
export function formatNamed(value: string): "nat" | "otlp" | undefined {
  const name = value.trim().toLowerCase();
  return name === "nat" || name === "otlp" ? name : undefined;
}

/** The handler settings the environment can change. */
export interface EnvironmentSettings {
  /** `NAT_TELEMETRY_ENDPOINT`, when set (possibly empty). */
  endpoint: string | undefined;
  /**
   * The program may not read `NAT_TELEMETRY_ENDPOINT` (Deno's `--allow-env`): where the user sends events cannot be
   * known, so nothing is sent to the default in its place.
   */
  endpointHidden: boolean;
  /** The same for the OTLP endpoint's variables, which name the collector with the OTLP format. */
  otlpEndpointHidden: boolean;
  /** `NAT_TELEMETRY_DRY_RUN` is set to a yes value, or the program may not read it (it could ask for a dry run). */
  dryRun: boolean;
  /** `NAT_SESSION_PREFIX`, or `""`. */
  sessionPrefix: string;
  /** Where the spool lives, or `undefined` when there is nowhere (see {@link defaultSpoolDir}). */
  spoolDir: string | undefined;
  /** Why there is nowhere, when there is not: `NAT_TELEMETRY_SPOOL_DIR` empty, no home, or a home not to be read. */
  noSpool: string | undefined;
  /**
   * Whether `spoolDir` is the platform's place, not one the user named (`NAT_TELEMETRY_SPOOL_DIR`): where it cannot
   * be used, runs keep their spool in {@link fallbackSpoolDir} instead.
   */
  spoolFallback: boolean;
  /** `NAT_TELEMETRY_HANDOFF`: `true`/`false` when set, else `"auto"` (hand off unless in CI). */
  handOff: boolean | "auto";
  /** `CI` is set to anything but `""`, `0` or `false`. */
  ci: boolean;
  /** `NAT_TELEMETRY_FORMAT`, when set. */
  format: string | undefined;
  /** The OTLP logs endpoint from `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  otlpEndpoint: string | undefined;
  /**
   * `OTEL_EXPORTER_OTLP_HEADERS`, then `OTEL_EXPORTER_OTLP_LOGS_HEADERS` (which wins), decoded; an entry that
   * is not a valid header (RFC 9110 token name, field value) is skipped, never sent.
   */
  otlpHeaders: Record<string, string>;
  /**
   * `OTEL_RESOURCE_ATTRIBUTES`, decoded, its entries that name the service only ({@link serviceAttributes}), with
   * `OTEL_SERVICE_NAME` as `service.name` when set.
   */
  otlpResource: Record<string, string>;
  /**
   * The values this library does not understand, one line each, with what it does instead (what
   * `nat-telemetry status` prints): a yes/no variable set to something else, an unknown format, an endpoint
   * that is not an http(s) URL, a relative spool directory, an `OTEL_*` list entry that is skipped.
   */
  problems: string[];
  /**
   * Those of `problems` that concern a variable an option of the handler takes the place of, by option (the OTLP
   * endpoint's variables, for one, are `endpoint`'s): where the program gives the option, they are moot.
   */
  problemsAbout: Record<ReplacingOption, string[]>;
}

/** The handler's options that take the place of environment variables where a program gives them. */
export type ReplacingOption = "endpoint" | "spoolDir" | "format" | "handOff";

/** The option that takes the place of each variable a setting is read from, where one does. */
const REPLACED_BY: Readonly<Record<string, ReplacingOption>> = {
  NAT_TELEMETRY_ENDPOINT: "endpoint",
  OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "endpoint",
  OTEL_EXPORTER_OTLP_ENDPOINT: "endpoint",
  NAT_TELEMETRY_FORMAT: "format",
  NAT_TELEMETRY_HANDOFF: "handOff",
  NAT_TELEMETRY_SPOOL_DIR: "spoolDir",
  HOME: "spoolDir", // for the spool; the consent file's problems name NAT_TELEMETRY_CONSENT_FILE
  LOCALAPPDATA: "spoolDir",
};

/**
 * The home directory the consent file is below where `NAT_TELEMETRY_CONSENT_FILE` names none (`HOME`, else
 * `USERPROFILE`): one rule for where runs read it and for what `status` says of it.
 *
 * @param env Reads a variable.
 * @returns The directory as the variable holds it, `undefined` where neither is set.
 * @example
 * ```ts
 * import { homeOfConsentFile } from "./config.ts";
 * homeOfConsentFile((name) => ({ HOME: "/home/ada" })[name]); // "/home/ada"
 * ```
 */
export function homeOfConsentFile(env: (name: string) => string | undefined): string | undefined {
  return env("HOME") ?? env("USERPROFILE");
}

/**
 * Reads the handler's environment settings. Unreadable variables (no Deno
 * `--allow-env`) read as unset, and are listed in `problems`; but for
 * `NAT_TELEMETRY_ENDPOINT`, which could name another endpoint than the default
 * (`endpointHidden`), and `NAT_TELEMETRY_DRY_RUN`, which could ask that nothing
 * be sent (read as a dry run). Values it does not understand never break
 * anything: each is read as documented (a yes/no variable as no, an unknown
 * format as `nat`, a relative spool directory as none, a bad header entry
 * skipped) and listed in `problems`. Never throws.
 *
 * @returns The settings.
 * @example
 * ```ts
 * import { environmentSettings } from "./config.ts";
 * environmentSettings().dryRun; // false unless NAT_TELEMETRY_DRY_RUN=1
 * environmentSettings().problems; // e.g. ['NAT_TELEMETRY_FORMAT="xml" is not a format (nat, otlp): ...']
 * ```
 */
export function environmentSettings(): EnvironmentSettings {
  const env = host().env;
  const problems: string[] = [];
  const problemsAbout: Record<ReplacingOption, string[]> = { endpoint: [], spoolDir: [], format: [], handOff: [] };
  /** Lists a problem, and with the option that replaces the variable it is about, where one does. */
  const problemWith = (variable: string, problem: string) => {
    problems.push(problem);
    const option = REPLACED_BY[variable];
    if (option !== undefined) problemsAbout[option].push(problem);
  };
  const flag = (name: string, consequence: string) => {
    const value = env(name);
    const problem = flagProblem(name, value);
    if (problem !== undefined) problemWith(name, `${problem}, ${consequence}`);
    return parseFlag(value);
  };
  flag("NAT_TELEMETRY_ENABLED", "so telemetry is off and nothing is asked");
  flag("NAT_TELEMETRY_DEBUG", "so no debug trail is written");
  const hidden: string[] = []; // loops, not filter(): a program may have broken Array's methods
  const ci = runsInCI(); // a CI set to what Deno cannot read is set: in CI, not unseen
  for (const name of HIDDEN_SETTINGS) {
    if (host().envHidden?.(name) === true && !(name === "CI" && ci)) hidden.push(name);
  }
  const dryRun = flag("NAT_TELEMETRY_DRY_RUN", "so events are sent") ?? hidden.includes("NAT_TELEMETRY_DRY_RUN");
  const endpoint = env("NAT_TELEMETRY_ENDPOINT");
  const endpointWrong = endpoint === undefined ? undefined : endpointProblem(endpoint);
  if (endpointWrong) {
    problemWith(
      "NAT_TELEMETRY_ENDPOINT",
      `NAT_TELEMETRY_ENDPOINT=${describe(redact(endpoint!))} ${endpointWrong}: nothing is sent`,
    );
  }
  const format = env("NAT_TELEMETRY_FORMAT");
  if (format !== undefined && format.trim() !== "" && formatNamed(format) === undefined) {
    problemWith(
      "NAT_TELEMETRY_FORMAT",
      `NAT_TELEMETRY_FORMAT=${describe(format)} is not a format (nat, otlp): the nat envelope is sent`,
    );
  }
  const handOff = flag("NAT_TELEMETRY_HANDOFF", "so events are delivered in process at exit") ?? "auto";
  const consentFile = env("NAT_TELEMETRY_CONSENT_FILE");
  const consentHome = homeOfConsentFile(env);
  const where = "it is read in the working directory where a run first reads it, so each directory may hold another " +
    "decision";
  if (consentFile && !isAbsolutePath(consentFile, runtimeInfo().os)) {
    problems.push(`NAT_TELEMETRY_CONSENT_FILE=${describe(consentFile)} is not an absolute path: ${where}`);
  } else if (!consentFile && consentHome && !isAbsolutePath(consentHome, runtimeInfo().os)) {
    problems.push(
      `NAT_TELEMETRY_CONSENT_FILE is not set and the home directory, ${describe(consentHome)}, is not an absolute ` +
        `path: the consent file below it is relative, and ${where}`,
    );
  }
  let noSpool: string | undefined;
  const spoolProblems: string[] = [];
  const spoolDir = defaultSpoolDir(env, runtimeInfo().os, spoolProblems, (why) => noSpool = why);
  for (const problem of spoolProblems) problemWith("NAT_TELEMETRY_SPOOL_DIR", problem); // its, XDG_STATE_HOME's, HOME's
  const explicitSpoolDir = env("NAT_TELEMETRY_SPOOL_DIR");
  const home = runtimeInfo().os === "win32" ? "LOCALAPPDATA" : "HOME";
  if (spoolDir === undefined && explicitSpoolDir === undefined && host().envHidden?.(home) === true) {
    noSpool = `the program may not read ${home} (${whyHidden(home)})`;
    problemWith(home, `${home} may not be read (${whyHidden(home)}): the spool cannot be kept in the home directory`);
  }
  for (const name of hidden) {
    problemWith(name, `${name} may not be read (${whyHidden(name)}): ${HIDDEN_SETTINGS_MEAN[name]}`);
  }
  for (const name of OTLP_ENDPOINT_VARIABLES) {
    const value = env(name)?.trim();
    const wrong = value ? httpUrlProblem(value) : undefined;
    if (wrong) problemWith(name, `${name}=${describe(redact(value!))} ${wrong}: OTLP events are not sent`);
  }
  const otlp = otlpEndpointFromEnv(env, (name) => hidden.includes(name));
  const list = (name: string) => parseOtelList(env(name), (entry) => problems.push(`${name}: ${entry}: skipped`));
  const otlpHeaders = {
    ...validHeaders("OTEL_EXPORTER_OTLP_HEADERS", list("OTEL_EXPORTER_OTLP_HEADERS"), problems),
    ...validHeaders("OTEL_EXPORTER_OTLP_LOGS_HEADERS", list("OTEL_EXPORTER_OTLP_LOGS_HEADERS"), problems),
  };
  const resource = serviceAttributes(list("OTEL_RESOURCE_ATTRIBUTES"));
  if (resource.skipped.length > 0) {
    problems.push(
      `OTEL_RESOURCE_ATTRIBUTES: ${resource.skipped.map((key) => describe(key)).join(", ")}: not sent, as it may ` +
        "say who or which machine sends (only the service's names and its deployment's environment are)",
    );
  }
  const otlpResource = {
    ...resource.sent,
    ...(env("OTEL_SERVICE_NAME") ? { "service.name": env("OTEL_SERVICE_NAME")! } : {}),
  };
  return {
    endpoint,
    endpointHidden: hidden.includes("NAT_TELEMETRY_ENDPOINT"),
    otlpEndpointHidden: otlp.hidden,
    dryRun,
    sessionPrefix: env("NAT_SESSION_PREFIX") ?? "",
    spoolDir,
    noSpool,
    spoolFallback: explicitSpoolDir === undefined,
    handOff,
    ci,
    format,
    otlpEndpoint: otlp.endpoint,
    otlpHeaders,
    otlpResource,
    problems,
    problemsAbout,
  };
}

/**
 * The variables of the handler's settings that Deno's `--allow-env` may hide (the opt-outs are consent's), and what
 * it comes to when one is: where a value could stop or redirect what is sent, nothing is sent.
 */
const HIDDEN_SETTINGS_MEAN: Readonly<Record<string, string>> = {
  NAT_TELEMETRY_ENDPOINT: "it could name another endpoint, so nothing is sent unless the program sets its endpoint",
  NAT_TELEMETRY_DRY_RUN: "it could ask that nothing be sent, so nothing is sent",
  NAT_TELEMETRY_FORMAT: "a value set there is not seen",
  NAT_TELEMETRY_SPOOL_DIR: "a value set there is not seen",
  NAT_TELEMETRY_HANDOFF: "a value set there is not seen",
  CI: "a value set there is not seen, so in CI the exit may hand off to a sender the CI machine then stops",
  OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "with the OTLP format it could name the collector, so nothing is sent there " +
    "unless NAT_TELEMETRY_ENDPOINT or the program sets the endpoint",
  OTEL_EXPORTER_OTLP_ENDPOINT: "the same, where OTEL_EXPORTER_OTLP_LOGS_ENDPOINT is not set",
  OTEL_EXPORTER_OTLP_HEADERS: "with the OTLP format, headers set there (a collector's key) are not sent",
  OTEL_EXPORTER_OTLP_LOGS_HEADERS: "the same",
};
const HIDDEN_SETTINGS = Object.keys(HIDDEN_SETTINGS_MEAN);

/**
 * What is wrong with a yes/no variable's value, when it is not one of those this library reads as intended (`on` is
 * not: it reads as no).
 *
 * @param name The variable's name, for the sentence.
 * @param value The variable's value, or `undefined` when unset.
 * @returns The sentence (`NAT_TELEMETRY_ENABLED="on" is not a yes/no value (...): read as no`), or `undefined` for
 *   `1`, `true`, `yes`, `0`, `false`, `no`, `off` and the empty string, in any case, blanks around, or unset.
 * @example
 * ```ts
 * import { flagProblem } from "./config.ts";
 * flagProblem("NAT_TELEMETRY_DEBUG", "on"); // 'NAT_TELEMETRY_DEBUG="on" is not a yes/no value (...): read as no'
 * flagProblem("NAT_TELEMETRY_DEBUG", "1"); // undefined
 * ```
 */
export function flagProblem(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const normalized = value.trim().toLowerCase();
  if (parseFlag(normalized) === true || UNDERSTOOD_NO.includes(normalized)) return undefined;
  return `${name}=${describe(value)} is not a yes/no value (1, true, yes / 0, false, no): read as no`;
}

/** The entries that are valid headers; the others are listed as problems (by name only: a value may be secret). */
function validHeaders(variable: string, entries: Record<string, string>, problems: string[]): Record<string, string> {
  const valid: Record<string, string> = {};
  for (const [name, value] of Object.entries(entries)) {
    if (!isHeaderName(name)) {
      // Not quoted: `Authorization: Basic ...=` (a header as HTTP writes it) is a "name" up to its first `=`, key and all.
      problems.push(
        `${variable}: an entry's name is not a header name (an RFC 9110 token; not shown, as it may hold a key, ` +
          "where an entry is written `Name: value` rather than `Name=value`): skipped, not sent",
      );
    } else if (isFramingHeader(name)) {
      problems.push(`${variable}: ${describe(name)} is the HTTP client's to set: skipped, not sent`);
    } else if (!isHeaderValue(value)) {
      problems.push(
        `${variable}: the value of ${describe(name)} is not a header value (RFC 9110, visible ASCII: no control ` +
          `characters, no leading or trailing space): skipped, not sent`,
      );
    } else {
      valid[name] = value;
    }
  }
  return valid;
}

/**
 * Where the spool lives: `NAT_TELEMETRY_SPOOL_DIR` (empty: no spool), else
 * `$XDG_STATE_HOME/nat/telemetry`, else the platform's place for state:
 * `~/.local/state/nat/telemetry`, `~/Library/Application Support/nat/telemetry`
 * on macOS, `%LOCALAPPDATA%\nat\telemetry` on Windows. A relative
 * `NAT_TELEMETRY_SPOOL_DIR` means no spool (a spool must be found again by
 * later runs, from any working directory); a relative `XDG_STATE_HOME` is
 * ignored, as the XDG specification says. Both are listed in `problems`.
 *
 * @param env Reads an environment variable.
 * @param os The OS, as Node names it.
 * @param problems Receives one line per value not understood. @default {[]}
 * @param none Told why there is none, when there is none.
 * @returns The directory, or `undefined` when there is none.
 * @example
 * ```ts
 * import { defaultSpoolDir } from "./config.ts";
 * defaultSpoolDir((name) => ({ HOME: "/home/ada" })[name], "linux"); // "/home/ada/.local/state/nat/telemetry"
 * ```
 */
export function defaultSpoolDir(
  env: (name: string) => string | undefined,
  os: string,
  problems: string[] = [],
  none: (why: string) => void = () => {},
): string | undefined {
  const explicit = env("NAT_TELEMETRY_SPOOL_DIR");
  if (explicit !== undefined) {
    if (explicit === "") return void none("NAT_TELEMETRY_SPOOL_DIR is empty");
    if (isAbsolutePath(explicit, os)) return explicit;
    problems.push(`NAT_TELEMETRY_SPOOL_DIR=${describe(explicit)} is not an absolute path: no spool is kept`);
    return void none("NAT_TELEMETRY_SPOOL_DIR is not an absolute path");
  }
  const state = env("XDG_STATE_HOME");
  if (state && !isAbsolutePath(state, os)) {
    problems.push(`XDG_STATE_HOME=${describe(state)} is not an absolute path: ignored, as the XDG specification says`);
  } else if (state) {
    return below(state, "nat/telemetry");
  }
  let dir: string | undefined;
  if (os === "win32") {
    const local = env("LOCALAPPDATA") ?? (env("USERPROFILE") && `${env("USERPROFILE")}\\AppData\\Local`);
    dir = local ? `${local}\\nat\\telemetry` : undefined;
  } else {
    const home = env("HOME");
    const place = os === "darwin" ? "Library/Application Support" : ".local/state";
    dir = home ? below(home, `${place}/nat/telemetry`) : undefined;
  }
  if (dir === undefined) return void none("there is no home directory");
  if (isAbsolutePath(dir, os)) return dir;
  problems.push(`the home directory is not an absolute path: no spool is kept there`);
  return void none("the home directory is not an absolute path");
}

/**
 * Where runs keep their spool when the platform's place cannot be used (no home, or one the program may not write:
 * a container run as a user of its own): `nat-telemetry-<uid>` in `$TMPDIR`, else (unset, or no directory there the
 * program may write in: it is not made) in `/tmp`. Without a spool a run
 * would remember nothing, not even that the endpoint is down, and would pay its timeout at every exit. The directory
 * is checked as the spool's place always is (the user's own, owner-only, no link), so another user who made it first
 * only leaves the runs as they were without it. None on Windows, whose temporary directory is the user's own place
 * already, nor where the user's id is not known.
 *
 * @param env Reads an environment variable.
 * @param os The OS, as Node names it.
 * @param uid The current user's id.
 * @param there Whether a directory the program may look at and write in is where a path leads.
 * @returns The directory, or `undefined`.
 * @example
 * ```ts
 * import { fallbackSpoolDir } from "./config.ts";
 * fallbackSpoolDir(() => undefined, "linux", 1000); // "/tmp/nat-telemetry-1000"
 * ```
 */
export function fallbackSpoolDir(
  env: (name: string) => string | undefined,
  os: string,
  uid: number | undefined,
  there: (path: string) => boolean = () => true,
): string | undefined {
  if (os === "win32" || uid === undefined) return undefined;
  const temporary = env("TMPDIR");
  const usable = temporary && isAbsolutePath(temporary, os) && there(temporary);
  return below(usable ? temporary : "/tmp", `nat-telemetry-${uid}`);
}
