/**
 * The user's decision about telemetry, shared with the Python tool: the
 * consent file (`~/.config/nat/telemetry.toml`, a `[telemetry]` table with
 * `consent`, `consented_at` and `prompt_version`), how the environment
 * overrides it, and the live "enabled" flag every handler reads when an event
 * is enqueued.
 *
 * @module
 */
import { temporaryName, writeAtomically } from "./atomic.ts";
import { flagProblem, homeOfConsentFile, parseFlag, whyHidden } from "./config.ts";
import { describe, describeError } from "./describe.ts";
import { formatTimestamp } from "./envelope.ts";
import { host } from "./runtime/mod.ts";
import { quietly } from "./runtime/host.ts";
import { below, parentOf } from "./runtime/guarded_files.ts";
import { notWhereItStarted, whereConsentFileIs } from "./relative_consent.ts";
import { parseToml, type TomlTable } from "./toml.ts";

/** What the user decided: yes, no, or nothing yet. */
export type ConsentState = "enabled" | "disabled" | "never_asked";

/**
 * The version of the disclosure the user agreed to, the Python tool's current
 * one, so each tool honours the other's decision. Bump both together if the
 * disclosure ever changes: an `enabled` recorded under another version reads
 * as `never_asked` (ask again); `disabled` is honoured under any version.
 */
export const PROMPT_VERSION = "1.0";

/** Where the decision came from. */
export type ConsentSource = "NAT_TELEMETRY_ENABLED" | "DO_NOT_TRACK" | "file" | "default";

/** The decision in force, and why. */
export interface EffectiveConsent {
  /** Whether events may be collected. */
  enabled: boolean;
  /** What decided it. */
  source: ConsentSource;
  /** What the consent file says (after the prompt-version gate). */
  fileState: ConsentState;
  /** The consent file's path, `undefined` when there is no home directory. */
  path: string | undefined;
  /** Why the consent file, though present, was read as `disabled`, e.g. "is a symlink"; absent when it was fine. */
  fileProblem?: string | undefined;
  /**
   * The prompt version a yes in the consent file was given under, where it is not this one's (`"0.9"`; `""` for a
   * file that names none): that yes answered another question, so the file reads as `never_asked` and the user is
   * asked again.
   */
  fileOutdatedYes?: string | undefined;
}

/**
 * The consent file's path: `NAT_TELEMETRY_CONSENT_FILE`, else
 * `~/.config/nat/telemetry.toml` (the Python tool's path, on every platform).
 *
 * @returns The path, or `undefined` without a home directory, or where the program's permissions hide the variables
 *   that say where it is (Deno without `--allow-env` for `NAT_TELEMETRY_CONSENT_FILE`, or for `HOME`).
 * @example
 * ```ts
 * import { consentFilePath } from "./consent.ts";
 * consentFilePath(); // e.g. "/home/ada/.config/nat/telemetry.toml"
 * ```
 */
export function consentFilePath(): string | undefined {
  if (hiddenConsentVariable()) return undefined;
  const { env } = host();
  const home = homeOfConsentFile(env);
  const given = env("NAT_TELEMETRY_CONSENT_FILE") || (home ? below(home, ".config/nat/telemetry.toml") : undefined);
  return given === undefined ? undefined : whereConsentFileIs(given);
}

/**
 * The consent file this run follows: the one that decided, where one did (wherever HOME or the working directory
 * point since: a command may change them), else {@link consentFilePath}.
 *
 * @returns The path, or `undefined` as {@link consentFilePath} returns it.
 * @example
 * ```ts
 * import { consentFileInForce } from "./consent.ts";
 * consentFileInForce(); // e.g. "/home/ada/.config/nat/telemetry.toml", told to the sender
 * ```
 */
export function consentFileInForce(): string | undefined {
  return (fromFile ? decided?.path : undefined) ?? consentFilePath();
}

/**
 * The variable the program's permissions hide (Deno without `--allow-env` for it) that could say where the consent
 * file is: `NAT_TELEMETRY_CONSENT_FILE`, or `HOME` when no file is named; then where it is cannot be known.
 */
function hiddenConsentVariable(): string | undefined {
  const { env, envHidden } = host();
  if (!envHidden) return undefined;
  if (envHidden("NAT_TELEMETRY_CONSENT_FILE")) return "NAT_TELEMETRY_CONSENT_FILE";
  return !env("NAT_TELEMETRY_CONSENT_FILE") && envHidden("HOME") ? "HOME" : undefined;
}

/** A consent file is a few lines; anything larger is not one. */
const MAX_CONSENT_FILE_BYTES = 65_536;

/** What a consent file says, and why it could not be trusted when it could not. */
export interface FileDecision {
  state: ConsentState;
  /** Why the file was read as `disabled` without saying so, e.g. "is a symlink". */
  problem?: string | undefined;
  /** The prompt version of a yes given to another question (read as `never_asked`), as the file says it; `""` for none. */
  outdatedYes?: string | undefined;
  /** The file's text, where it was read. */
  text?: string | undefined;
  /** Whether every directory above it was judged safe, where the read judged them first. */
  placeJudged?: boolean | undefined;
}

/**
 * Reads a consent file through the guarded door. No file is `never_asked`. A
 * file that is there but cannot be read with certainty (not a regular file of
 * the user's, too large, not valid UTF-8 or not valid TOML, or where another
 * user could have put it back), or that the program may not look for (Deno's
 * or Node.js's permissions: an opt-out there cannot be seen), is `disabled`:
 * it never leads to a question or to sending.
 *
 * @param placeChecked The directories above it were judged by an earlier look, which found that no other user may
 *   replace what is there (a run reading again whether the user opted out since): not walked again. Never where
 *   they may: what is there is opened.
 */
function readDecision(path: string, placeChecked = false): FileDecision {
  const files = host().files;
  if (!files) return { state: "never_asked" };
  const left = notWhereItStarted(path);
  if (left !== undefined) return { state: "disabled", problem: left };
  if (!files.allowed(path, "read")) {
    return { state: "disabled", problem: "may not be read (the program's permissions)" };
  }
  let placeJudged: boolean | undefined;
  if (!placeChecked) {
    if (!files.present(path)) return { state: "never_asked" };
    try {
      // A file of the user's where another user may rename files could be an old decision put back, or, swapped in
      // between the look and the open, a FIFO that blocks Deno's open: judged before it is opened.
      placeJudged = files.checkPlace(path);
    } catch (error) {
      return {
        state: "disabled",
        problem: `is where another user could replace it (${refusal(error).replaceAll("_", " ")})`,
      };
    }
  }
  let text: string | undefined;
  try {
    text = files.read(path, MAX_CONSENT_FILE_BYTES);
  } catch (error) {
    // Python's tomllib rejects such a file as a whole: whatever it says, it decides nothing but "no".
    if (refusal(error) === "not_utf8") {
      return { state: "disabled", problem: "is not valid UTF-8 (Python's tomllib rejects it)" };
    }
    if (deniedByPermissions(error)) {
      return { state: "disabled", problem: "may not be read where it leads (the program's permissions)" };
    }
    return { state: "disabled", problem: `cannot be read safely (${refusal(error).replaceAll("_", " ")})` };
  }
  return text === undefined ? { state: "never_asked" } : { ...decisionOf(text), text, placeJudged };
}

/** Whether the program's permissions refused the access (Deno's `NotCapable`, Node.js's `ERR_ACCESS_DENIED`). */
function deniedByPermissions(error: unknown): boolean {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  return name === "NotCapable" || code === "ERR_ACCESS_DENIED";
}

/** Why the guarded door refused a file (`RefusedPath.reason`), or `unreadable`. */
function refusal(error: unknown): string {
  return (error as { reason?: string } | null)?.reason ?? "unreadable";
}

/**
 * What a consent file's text decides, read as Python's `tomllib` reads it:
 * no `[telemetry]` table or no `consent` is `never_asked`; `"disabled"` is
 * `disabled` under any prompt version; `"enabled"` is `enabled` under the
 * current prompt version (a string `"1.0"`) and `never_asked` under any
 * other; text that is not valid TOML, a `telemetry` that is not a table, or
 * a `consent` value of another kind reads as `disabled`, with the reason.
 *
 * @param text The file's text.
 * @returns The decision, and why the file could not be trusted when it could not.
 * @example
 * ```ts
 * import { decisionOf } from "./consent.ts";
 * decisionOf('telemetry.consent = "disabled"').state; // "disabled"
 * decisionOf("[telemetry]\nconsent = 'enabled'\nprompt_version = 1.0").state; // "never_asked"
 * ```
 */
export function decisionOf(text: string): FileDecision {
  let document: TomlTable;
  try {
    document = parseToml(text);
  } catch {
    return { state: "disabled", problem: "is not valid TOML" };
  }
  const table = document.telemetry;
  if (table === undefined) return { state: "never_asked" };
  if (typeof table !== "object" || Array.isArray(table)) {
    return { state: "disabled", problem: "has a 'telemetry' that is not a table" };
  }
  const { consent, prompt_version: version } = table;
  if (consent === undefined) return { state: "never_asked" };
  if (consent === "disabled") return { state: "disabled" };
  if (consent === "enabled") {
    return version === PROMPT_VERSION
      ? { state: "enabled" }
      : { state: "never_asked", outdatedYes: version === undefined ? "" : String(version) };
  }
  return { state: "disabled", problem: "has a consent value this tool does not know" };
}

/**
 * Reads the decision recorded in a consent file. A missing file, an unknown
 * value, or `enabled` under another prompt version read as `never_asked`; a
 * file that is there but cannot be read with certainty (a symlink, a FIFO,
 * another user's, too large, not valid UTF-8, malformed) reads as `disabled`.
 *
 * @param path The file.
 * @returns The recorded state.
 * @example
 * ```ts
 * import { readConsentFile } from "./consent.ts";
 * readConsentFile("/nonexistent/telemetry.toml"); // "never_asked"
 * ```
 */
export function readConsentFile(path: string): ConsentState {
  return readDecision(path).state;
}

/**
 * Formats a consent file the Python tool reads.
 *
 * @param state The decision.
 * @param now When it was made, in epoch milliseconds.
 * @returns The file's text.
 * @example
 * ```ts
 * import { formatConsentToml } from "./consent.ts";
 * formatConsentToml("disabled", Date.UTC(2026, 10, 28)); // '...consent = "disabled"\nconsented_at = "2026-11-28T00:00:00Z"...'
 * ```
 */
export function formatConsentToml(state: "enabled" | "disabled", now: number): string {
  return [
    "# NeMo Agent Toolkit telemetry consent.",
    "# To change, run `nat configure telemetry --enable | --disable` or `nat-telemetry enable | disable`,",
    "# or set the NAT_TELEMETRY_ENABLED environment variable.",
    // To the millisecond, where `consented_at` counts seconds: a decision written again within the second (disable,
    // then enable) is another text, which a run at work tells from its own where the file system dates files by the
    // second.
    `# Saved ${formatTimestamp(now)}.`,
    "[telemetry]",
    `consent = "${state}"`,
    `consented_at = "${formatTimestamp(now).replace(/\.\d{3}Z$/, "Z")}"`,
    `prompt_version = "${PROMPT_VERSION}"`,
    "",
  ].join("\n");
}

/**
 * Records the user's decision: writes the consent file atomically with
 * owner-only permissions (unless it says so already: a run at work elsewhere
 * takes a file written anew for a new decision), and updates the live flag
 * (unless an environment variable decides). Throws a `TypeError` for
 * arguments it cannot write (the file is the Python tool's too), never
 * otherwise.
 *
 * @param state The decision.
 * @param path The file. @default {consentFilePath()}
 * @returns `true` when the decision was persisted; on `false` the previous file is unchanged.
 * @example
 * ```ts
 * import { recordConsent } from "@nat/telemetry";
 * if (!recordConsent("disabled")) console.error("could not save your choice");
 * ```
 */
export function recordConsent(
  state: "enabled" | "disabled",
  path: string | undefined = consentFilePath(),
): boolean {
  if (state !== "enabled" && state !== "disabled") {
    throw new TypeError(`Cannot record consent: the decision must be "enabled" or "disabled", got ${describe(state)}`);
  }
  if (path !== undefined && (typeof path !== "string" || path === "")) {
    throw new TypeError(`Cannot record consent: the path must be a non-empty string, got ${describe(path)}`);
  }
  return saveConsent(state, path, () => {});
}

/**
 * {@link recordConsent}, telling why when the decision cannot be saved (for the `nat-telemetry` command).
 *
 * @param state The decision.
 * @param path The file.
 * @param refused Told why, when the decision was not saved.
 * @returns `true` when the decision was persisted.
 * @example
 * ```ts
 * import { saveConsent } from "./consent.ts";
 * saveConsent("disabled", "/nonexistent/nat/telemetry.toml", (why) => console.error(why));
 * ```
 */
export function saveConsent(
  state: "enabled" | "disabled",
  path: string | undefined,
  refused: (why: string) => void,
): boolean {
  const files = host().files;
  if (path === undefined || !files) {
    const hidden = hiddenConsentVariable();
    refused(
      path !== undefined
        ? "no file access"
        : hidden
        ? `where it is cannot be known: the program may not read ${hidden} (${whyHidden(hidden)})`
        : "no home directory",
    );
    return false;
  }
  const left = notWhereItStarted(path);
  if (left !== undefined) {
    refused(`the consent file ${left}`);
    return false;
  }
  const dir = parentOf(path) ?? ".";
  const name = path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
  const now = Date.now();
  const temp = temporaryName(dir, now);
  // Every path the write touches is asked about first (Deno), so a narrow --allow-write never prompts. The
  // temporary file must sit beside the target: only a rename within one directory replaces it atomically.
  const touched = [dir, temp, path];
  if (!touched.every((each) => files.allowed(each, "write") && files.allowed(each, "read"))) {
    refused(`the program may not read and write ${dir} (its permissions)`);
    return false;
  }
  // The same decision there already (a second `enable`, two programs asking at once) is left as it is, where no one
  // else may write it: a run at work takes a file written anew for a new decision, which might have followed an
  // opt-out, and would stop. One that others may write is written again, owner-only.
  const there = readDecision(path);
  if (there.problem !== undefined || there.state !== state || !files.isPrivate(path)) {
    try {
      files.ensureDir(dir, false);
      files.checkPlace(path);
      writeAtomically(files, dir, name, formatConsentToml(state, now), now, temp);
    } catch (error) {
      refused(describeError(error));
      return false;
    }
  }
  const after = effectiveConsent();
  // The file the decision in force is read from (the consent file, made absolute), not the one written: a copy saved
  // elsewhere, or a relative path the working directory moves, must not become the file the run follows.
  if (after.source === "file") {
    [enabled, fromFile] = [state === "enabled", true];
    decided = after.path === undefined ? undefined : seen(after.path);
  }
  return true;
}

/**
 * The decision in force: `NAT_TELEMETRY_ENABLED` if set (a yes value enables;
 * any other value disables and suppresses the prompt); else `DO_NOT_TRACK`
 * set to anything but `""` or `0` disables; else the consent file; else off.
 * A variable or file the program's permissions hide (Deno's `--allow-env`,
 * `--allow-read`; Node.js's `--permission`) could hold an opt-out: it
 * disables.
 *
 * @returns The decision and its source.
 * @example
 * ```ts
 * import { effectiveConsent } from "@nat/telemetry";
 * const { enabled, source } = effectiveConsent();
 * console.log(`telemetry is ${enabled ? "on" : "off"} (${source})`);
 * ```
 */
export function effectiveConsent(): EffectiveConsent {
  const path = consentFilePath();
  const { state: fileState, problem, outdatedYes } = fileDecisionAt(path);
  const file = {
    fileState,
    path,
    ...(problem ? { fileProblem: problem } : {}),
    ...(outdatedYes === undefined ? {} : { fileOutdatedYes: outdatedYes }),
  };
  return { ...(environmentDecision() ?? fileDecision(fileState)), ...file };
}

/**
 * The decision, and what made it; the consent file is read only when the environment does not decide, and then its
 * text is given too.
 */
function decision(): {
  enabled: boolean;
  source: ConsentSource;
  text?: string | undefined;
  problem?: string | undefined;
  placeJudged?: boolean | undefined;
} {
  const environment = environmentDecision();
  if (environment) return environment;
  const { state, text, problem, placeJudged } = fileDecisionAt(consentFilePath());
  return { ...fileDecision(state), text, placeJudged, ...(problem ? { problem } : {}) };
}

/**
 * What the consent file at `path` ({@link consentFilePath}) decides; with no path, nothing, unless the program's
 * permissions hide where it is (Deno without `--allow-env` for `NAT_TELEMETRY_CONSENT_FILE` or `HOME`): an opt-out
 * there cannot be seen, so it decides "no", as a file the program may not read does.
 */
function fileDecisionAt(path: string | undefined): FileDecision {
  if (path !== undefined) return readDecision(path);
  const hidden = hiddenConsentVariable();
  return hidden
    ? { state: "disabled", problem: `cannot be found: the program may not read ${hidden} (${whyHidden(hidden)})` }
    : { state: "never_asked" };
}

/** What `NAT_TELEMETRY_ENABLED` or `DO_NOT_TRACK` decide, if they decide. */
function environmentDecision(): { enabled: boolean; source: ConsentSource } | undefined {
  const { env, envHidden } = host();
  // A variable the program's permissions hide (Deno's --allow-env) could hold an opt-out: it is taken as one.
  if (envHidden?.("NAT_TELEMETRY_ENABLED")) return { enabled: false, source: "NAT_TELEMETRY_ENABLED" };
  const fromEnv = parseFlag(env("NAT_TELEMETRY_ENABLED"));
  if (fromEnv !== undefined) return { enabled: fromEnv, source: "NAT_TELEMETRY_ENABLED" };
  if (envHidden?.("DO_NOT_TRACK")) return { enabled: false, source: "DO_NOT_TRACK" };
  const doNotTrack = env("DO_NOT_TRACK");
  if (doNotTrack !== undefined && doNotTrack !== "" && doNotTrack !== "0") {
    return { enabled: false, source: "DO_NOT_TRACK" };
  }
  return undefined;
}

function fileDecision(state: ConsentState): { enabled: boolean; source: ConsentSource } {
  return state === "never_asked"
    ? { enabled: false, source: "default" }
    : { enabled: state === "enabled", source: "file" };
}

let enabled: boolean | undefined;
/** Whether {@link enabled} is what the consent file says (the file decided, or an answer was just saved there). */
let fromFile = false;
/**
 * The consent file that decided, when {@link fromFile} (the one a run follows, wherever HOME points later), as it was
 * then or once the program saved the user's answer there: a decision written there since is another.
 */
let decided: Seen | undefined;
/** How a process that outlives the run which started it decides again (a sender); see {@link followConsent}. */
let decideAgain: (() => boolean) | undefined;
/** Whether the program decided, with {@link setTelemetryEnabled}: nobody is then asked. */
let programDecided = false;
/**
 * The consent file as it was when the program turned telemetry on ({@link setTelemetryEnabled}). A decision written
 * there since is the user's newer word, which the program's cannot have answered.
 */
let programFile: Seen | undefined;

/** What {@link consentHolds} says turned telemetry off during the run, for the trail; cleared by the program's own say. */
let stoppedBy: string | undefined;

/** {@link stoppedBy} for an opt-out the program put in its environment during the run. */
const ENVIRONMENT_OPT_OUT = "an opt-out set in the environment during the run";

/** {@link stoppedBy} for a decision written to the consent file after the program turned telemetry on. */
const WRITTEN_SINCE_PROGRAM = "the consent file, written since the program turned telemetry on";

/**
 * A consent file as a run saw it: whether anything was there, its text, why it could not be read with certainty (a
 * link, a FIFO, another user's file, a place where another user could replace it: an opt-out at the start of a run)
 * (each `undefined`: not there, or not read). `reread`: it was read cleanly, or nothing was there, where no other user
 * may be able to replace what is there: it is opened again at each later look, and when it was written (`modified`)
 * tells a decision written again to the same text. Elsewhere (another user could swap in a FIFO between the look and
 * the open, which blocks Deno's open), what a look told of it (`stamp`: `files.stamp`) is all there is to compare.
 */
interface Seen {
  path: string;
  there: boolean;
  text?: string | undefined;
  problem?: string | undefined;
  reread: boolean;
  modified?: number | undefined;
  stamp?: string | undefined;
}

/** The consent file at a path as it is now (`read`: as just read there, its place judged first). */
function seen(
  path: string,
  read: Pick<FileDecision, "text" | "problem" | "placeJudged"> = readDecision(path),
): Seen {
  const files = host().files;
  const { text, problem } = read;
  // Nothing there to read: its place judged now, for what may be put there.
  const reread = problem === undefined && (read.placeJudged ?? placeJudgedSafe(path));
  const there = files?.present(path) ?? true;
  return reread
    ? { path, there, text, problem, reread, modified: files?.modifiedAt(path) }
    : { path, there, text, problem, reread, stamp: files?.stamp(path) };
}

/** Whether no other user may replace what is at a path: every directory above it judged so. */
function placeJudgedSafe(path: string): boolean {
  try {
    return host().files?.checkPlace(path) === true;
  } catch {
    return false;
  }
}

/**
 * Whether a consent file was written (or made, or removed, or replaced by what cannot be read with certainty) since a
 * run saw it (`read`: as just read there). Its time tells a decision written again to the same text (`consented_at`
 * counts seconds); its text, one written within the same second on a file system that dates files by the second.
 * Where it may not be opened again, a look alone tells: any change of what it shows (its mode and owner too), and it
 * cannot tell a write of the same size within the same second as the last (Deno dates changes by the second). A file
 * made and removed again between two looks is not seen.
 */
function writtenSince(before: Seen, read?: FileDecision): boolean {
  const files = host().files;
  // Nothing there then, and nothing now: a look, not a read, before each request of a run.
  if (read === undefined && !before.there && files?.present(before.path) === false) return false;
  if (read === undefined && !before.reread) return files?.stamp(before.path) !== before.stamp;
  const now = read ?? readDecision(before.path, true);
  return now.text !== before.text || now.problem !== before.problem ||
    files?.modifiedAt(before.path) !== before.modified;
}

/** Whether the consent file was written (or made, or removed) since the program turned telemetry on. */
function writtenSinceProgram(): boolean {
  return programFile !== undefined && writtenSince(programFile);
}

/**
 * The program's last opt-out ({@link setTelemetryEnabled} with `false`), kept on the global object for every copy of
 * the package in the process (a plugin, or a dependency, may bundle a copy of its own), so that an opt-out made with
 * one copy stops them all. Turning telemetry on is not shared: a plugin's copy that turns itself on must not turn on
 * the program's, which the user may have opted out of. Its serial tells a copy whether it has followed it yet.
 */
const PROGRAM_OPT_OUT = Symbol.for("@nat/telemetry: the program's opt-out");
/** The global object, as it holds the program's opt-out. */
const shared = globalThis as { [PROGRAM_OPT_OUT]?: { serial: number } };
// The holder is put there as the first copy loads, fixed (neither replaced nor removed): a program that freezes its
// global object later, to harden it, still lets an opt-out reach every copy. Where it cannot be (a global object
// frozen before), an opt-out holds for the copy that made it.
try {
  if (shared[PROGRAM_OPT_OUT] === undefined) Object.defineProperty(shared, PROGRAM_OPT_OUT, { value: { serial: 0 } });
} catch {
  // Frozen already.
}
/** The serial of the program's opt-out this copy follows: 0 for none. */
let followedSerial = 0;

/**
 * The serial of the last opt-out a copy shared, `undefined` for none; `NaN` where what is there cannot be read as one
 * (a getter that throws, something else put there): taken as an opt-out, at every look.
 */
function sharedOptOut(): number | undefined {
  try {
    const holder = shared[PROGRAM_OPT_OUT];
    if (holder === undefined) return undefined;
    const { serial } = holder;
    return Number.isSafeInteger(serial) && serial >= 0 && serial < Number.MAX_SAFE_INTEGER ? serial : NaN;
  } catch {
    return NaN;
  }
}

/** Follows an opt-out the program made with another copy of the package, if it made one since this copy looked. */
function followProgram(): void {
  const serial = sharedOptOut();
  if (serial === undefined || serial === followedSerial) return;
  followedSerial = serial;
  [enabled, fromFile, programDecided] = [false, false, true];
}

/**
 * Whether the program has turned telemetry on or off itself ({@link setTelemetryEnabled}), from a setting of its
 * own: `askForConsent` then asks nothing, as the user has answered the program.
 *
 * @returns Whether `setTelemetryEnabled` was called in this process.
 * @example
 * ```ts
 * import { programHasDecided } from "./consent.ts";
 * if (!programHasDecided()) console.log("the user may be asked");
 * ```
 */
export function programHasDecided(): boolean {
  followProgram();
  return programDecided;
}

/**
 * Makes {@link consentHolds} decide again at each call, with `decide`: for a process that delivers what earlier
 * runs spooled, and outlives them (a sender), so that an opt-out recorded meanwhile stops it before its next
 * request.
 *
 * @param decide Whether the user's decision, read again, lets it send.
 * @example
 * ```ts
 * import { effectiveConsent, followConsent } from "./consent.ts";
 * followConsent(() => effectiveConsent().enabled);
 * ```
 */
export function followConsent(decide: () => boolean): void {
  decideAgain = decide;
}

/**
 * Whether what is pending may still be sent or spooled. In a process that follows the user's decision
 * ({@link followConsent}: a sender), or a program that the consent file turned on, that decision read again (and
 * {@link isTelemetryEnabled} with it): an opt-out taken meanwhile, in another shell or by the program itself, stops
 * what is not sent yet. So does an opt-out the program put in its environment since (`DO_NOT_TRACK`, or
 * `NAT_TELEMETRY_ENABLED=0`, from a `--no-telemetry` flag it parses in the command it tracks), unless the program
 * decided with {@link setTelemetryEnabled}, whose decision only one the user writes to the consent file since stops.
 * Where the environment or the program decided otherwise, always.
 *
 * @returns `true` when a request may start, or events be spooled.
 * @example
 * ```ts
 * import { consentHolds } from "./consent.ts";
 * consentHolds(); // the consent file read again where it turned telemetry on
 * ```
 */
export function consentHolds(): boolean {
  if (decideAgain) return enabled = decideAgain();
  followProgram();
  // The environment read again, as at the start of a run: a decision the program made last (`setTelemetryEnabled`,
  // not an answer it saved to the consent file since) overrides it. An opt-out seen there holds for the rest of the
  // run, as one written to the consent file does, even if the program takes the variable away again.
  const programsOwn = programDecided && !fromFile;
  if (!programsOwn && (stoppedBy === ENVIRONMENT_OPT_OUT || environmentDecision()?.enabled === false)) {
    stoppedBy = ENVIRONMENT_OPT_OUT;
    return enabled = false;
  }
  // Nor does it override a decision the user wrote to the consent file since (`mycli telemetry disable` in another
  // shell), which it never saw: even a yes again, which may have followed a no.
  if (programsOwn && (stoppedBy === WRITTEN_SINCE_PROGRAM || writtenSinceProgram())) {
    stoppedBy = WRITTEN_SINCE_PROGRAM;
    return enabled = false;
  }
  // A program that the consent file turned on (or that recorded the user's answer there) follows it: an opt-out
  // taken meanwhile (`mycli telemetry disable` in another shell, or recorded by the program) stops what it has not
  // sent, or spooled, yet. Where the environment or the program decided, the decision cannot change under it.
  if (!fromFile || decided === undefined) return true;
  // What could not be read with certainty at the start stays a no. Where another user may be able to replace it, it is
  // not opened again: a look tells whether it was written since. A file replaced by an atomic rewrite as it was read
  // (Deno: changed while it was opened) is read once more; one that still cannot be read with certainty (a link, not
  // TOML...) is disabled, as at the start.
  let read = decided.reread ? readDecision(decided.path, true) : undefined;
  if (read?.problem !== undefined) read = readDecision(decided.path, true);
  // A decision written since the run's own, even a yes again (`disable`, then `enable`, between two looks), may have
  // followed an opt-out that what is pending must honour: the run sends, spools and records nothing more (a later run
  // follows the new decision).
  enabled = decided.problem === undefined &&
    (read === undefined
      ? enabled === true && !writtenSince(decided)
      : read.problem === undefined && !writtenSince(decided, read) && fileDecision(read.state).enabled);
  if (!enabled) stoppedBy ??= "the consent file, written again during the run";
  return enabled;
}

/**
 * Whether telemetry is on right now. Starts from {@link effectiveConsent}
 * (the environment, else the consent file, else off) and follows
 * {@link setTelemetryEnabled} afterwards.
 *
 * @returns `true` when events may be collected.
 * @example
 * ```ts
 * import { isTelemetryEnabled } from "@nat/telemetry";
 * if (isTelemetryEnabled()) console.log("telemetry is on");
 * ```
 */
export function isTelemetryEnabled(): boolean {
  followProgram();
  if (enabled === undefined) settle(decision());
  return enabled === true;
}

/**
 * The decision in force and what made it, which the live flag starts from unless something set it already: what
 * `askForConsent` asks on.
 *
 * @returns The decision and its source (`default` when nobody decided).
 * @example
 * ```ts
 * import { settledDecision } from "./consent.ts";
 * if (settledDecision().source === "default") console.log("nobody decided yet");
 * ```
 */
export function settledDecision(): { enabled: boolean; source: ConsentSource } {
  const current = decision();
  if (enabled === undefined) settle(current);
  return { enabled: current.enabled, source: current.source };
}

/** Sets the live flag from the decision in force, and keeps the consent file's text where it decided. */
function settle(
  current: { enabled: boolean; source: ConsentSource } & Pick<FileDecision, "text" | "placeJudged">,
): void {
  [enabled, fromFile] = [current.enabled, current.source === "file"];
  const path = fromFile ? consentFilePath() : undefined;
  decided = path === undefined ? undefined : seen(path, current);
}

/**
 * The user's own decision (the environment, the consent file) that the program's `setTelemetryEnabled(true)`
 * overrides, where it is a no: the program's own events go, delivered by the run itself, as a sender and every later
 * run, which read that decision again, follow the no; what other runs left in the spool waits for the user.
 *
 * @returns What says no (`DO_NOT_TRACK`, `NAT_TELEMETRY_ENABLED`, `file`), or `undefined`.
 * @example
 * ```ts
 * import { optOutOverridden } from "./consent.ts";
 * optOutOverridden(); // "DO_NOT_TRACK" where it is set and the program called setTelemetryEnabled(true)
 * ```
 */
export function optOutOverridden(): ConsentSource | undefined {
  // A no written since the program decided is the user's newer word, which stops the run: nothing is overridden.
  if (!programDecided || fromFile || enabled !== true || writtenSinceProgram()) return undefined;
  const environment = environmentDecision();
  if (environment) return environment.enabled ? undefined : environment.source;
  // The consent file as the program found it, not written since, is not read again; the one the consent path names
  // since (the program changed HOME) is. One that could not be read with certainty (Deno without --allow-read for it,
  // a link) reads as a no, for what a run collects; but it is no decision the program saw: what it records goes as
  // any run's.
  const path = consentFilePath();
  const seenFile = programFile?.path === path ? programFile : undefined;
  const { state, problem } = seenFile === undefined
    ? fileDecisionAt(path)
    : seenFile.problem !== undefined || seenFile.text === undefined
    ? { state: "never_asked", problem: seenFile.problem }
    : decisionOf(seenFile.text);
  return state === "disabled" && problem === undefined ? "file" : undefined;
}

/**
 * Whether telemetry is on in this process because the consent file says yes (it decided, or the answer to the
 * question was saved there): what a sender must then find there still, so that a file emptied or rewritten by hand
 * (no decision it can read) stops it as an opt-out would.
 *
 * @returns `true` when the consent file turned telemetry on.
 * @example
 * ```ts
 * import { onByConsentFile } from "./consent.ts";
 * onByConsentFile(); // false unless the file said yes
 * ```
 */
export function onByConsentFile(): boolean {
  return isTelemetryEnabled() && fromFile;
}

/**
 * Whether telemetry is on for this process, and what decided it: the source of the decision in force, or the program
 * itself where it turned telemetry the other way ({@link setTelemetryEnabled}, overriding even the environment).
 *
 * @returns The state, and what decided it: a {@link ConsentSource} (`NAT_TELEMETRY_ENABLED`, `file`...), or
 *   `the program (setTelemetryEnabled)`.
 * @example
 * ```ts
 * import { liveDecision } from "./consent.ts";
 * const { enabled, decidedBy } = liveDecision();
 * console.error(`telemetry ${enabled ? "on" : "off"} (decided by ${decidedBy})`);
 * ```
 */
export function liveDecision(): { enabled: boolean; decidedBy: string } {
  const live = isTelemetryEnabled();
  const { enabled, source, problem } = decision();
  // A variable the program may not read (Deno's --allow-env) decided "no" as one that could hold an opt-out: said so;
  // as a consent file read as "no" because it could not be read with certainty (Deno without --allow-read for it).
  const hidden = source !== "file" && source !== "default" && host().envHidden?.(source) === true;
  // A value it does not understand (`NAT_TELEMETRY_ENABLED=on`) reads as no: said, as `status` says it.
  const misread = source === "NAT_TELEMETRY_ENABLED" && !hidden ? flagProblem(source, host().env(source)) : undefined;
  const said = hidden
    ? `${source}, which the program may not read (${whyHidden(source)})`
    : misread !== undefined
    ? misread
    : problem
    ? `${source}: the consent file ${problem}, so it is read as disabled`
    : source;
  return { enabled: live, decidedBy: live === enabled ? said : stoppedBy ?? "the program (setTelemetryEnabled)" };
}

/**
 * Turns telemetry on or off for this process, effective for the next
 * `enqueue` of every handler, and the question is then never asked (`askForConsent`): the program has decided, from
 * a setting of its own. An opt-out (`false`) holds for every copy of the package in the thread (a plugin's bundled
 * copy too, of this version or later; a worker thread has a global object of its own, where the program opts out
 * again); turning telemetry on holds for this copy only. Events recorded before an opt-out are still delivered. It
 * does not record the user's decision on disk (see {@link recordConsent}), which, made later in the process (the
 * user's `telemetry enable`), decides from then on.
 * Over the user's no (the environment's, the consent file's), it turns telemetry on for this run alone: its events
 * are delivered in process and never spooled, as a sender and later runs follow the no; a decision the user writes
 * to the consent file meanwhile stops it.
 *
 * @param value `true` to collect events, `false` to ignore them.
 * @throws {TypeError} When `value` is not a boolean.
 * @example
 * ```ts
 * import { setTelemetryEnabled } from "@nat/telemetry";
 * setTelemetryEnabled(false);
 * ```
 */
export function setTelemetryEnabled(value: boolean): void {
  if (typeof value !== "boolean") {
    throw new TypeError(`Cannot set telemetry enabled: the value must be a boolean, got ${typeof value}`);
  }
  [enabled, fromFile, programDecided, stoppedBy] = [value, false, true, undefined];
  const path = value ? quietly(consentFilePath) : undefined;
  programFile = path === undefined ? undefined : quietly(() => seen(path));
  // This copy's decision stands over an opt-out another copy shared before it; an opt-out is shared with them all.
  const before = sharedOptOut() ?? 0;
  followedSerial = value ? before : before + 1;
  if (value) return;
  try {
    shared[PROGRAM_OPT_OUT]!.serial = followedSerial;
  } catch {
    // No holder (a global object frozen before the package loaded), or one that cannot be written: this copy's.
  }
}
