/**
 * The first-run question: asked once, only on an interactive terminal, on
 * standard error, in plain words about what is and is not collected. `y`
 * means yes (Enter alone is no answer); `n` and the end of input (Ctrl-D) mean no. The answer is
 * recorded in the consent file the Python tool shares and takes effect at once.
 * Ctrl-C is no answer: nothing is recorded, and the program ends as Ctrl-C
 * would end it (as the Python tool's `KeyboardInterrupt` does).
 *
 * @module
 */
import { runsInCI, runsUnderTestRunner } from "./config.ts";
import {
  type ConsentState,
  programHasDecided,
  recordConsent,
  setTelemetryEnabled,
  settledDecision,
} from "./consent.ts";
import { describe, isPlainObject, unknownOption } from "./describe.ts";
import { host, type HostTerminal, SIGNAL_EXIT_STATUS } from "./runtime/mod.ts";

/**
 * Everything collected under prompt version "1.0" by either tool that shares
 * the consent file (this library, and the Python `nat` tool), item by item: a
 * "yes" given to one tool is taken by the other, so both disclose the union.
 * The Python tool reports any exception's class name; this library only
 * built-in ones (or those the program lists), and says so in its docs.
 */
export const DISCLOSED_ITEMS: readonly string[] = [
  "the product and the command that ran, and a subcommand the program registered",
  "how it ended: success, failure or interrupted, the exit code, and the class name of an error " +
  "(such as ValueError or TypeError; never its message)",
  "how long it took",
  "the language runtime and its version (Python, Node.js, Deno or Bun) and the CPU architecture",
  "the tool's version, a random id for the run, and when the events happened and were sent",
];

/** What is never collected, by either tool. */
export const NEVER_COLLECTED: readonly string[] = [
  "arguments, file paths or file contents",
  "error messages or stack traces",
  "user or host names, IP-based or device identifiers, or any other personal information",
];

/**
 * The disclosure shown before the question.
 *
 * @param optOut The command the program's users run to opt out (e.g. `mycli telemetry disable`): the users of
 *   a CLI have that CLI, not `nat-telemetry`. Without it, the environment variable is named alone.
 * @param file The consent file, as the user would name it. @default {"~/.config/nat/telemetry.toml"}
 * @returns The text, lines separated by `\n`.
 * @example
 * ```ts
 * import { consentDisclosure } from "./prompt.ts";
 * consentDisclosure("mycli telemetry disable"); // "...Change your mind any time: `mycli telemetry disable`..."
 * ```
 */
export function consentDisclosure(optOut?: string, file: string = DEFAULT_FILE_NAME): string {
  return [
    "",
    "NVIDIA NeMo Agent Toolkit collects anonymous usage data to improve its tools:",
    ...DISCLOSED_ITEMS.map((item) => `  - ${item},`),
    "It never collects:",
    ...NEVER_COLLECTED.map((item) => `  - ${item}.`),
    `Your answer applies to the Python \`nat\` tool too (they share ${file}).`,
    optOut
      ? `Change your mind any time: \`${optOut}\` (or NAT_TELEMETRY_ENABLED=0).`
      : "Change your mind any time: NAT_TELEMETRY_ENABLED=0 in the environment turns it off.",
    "",
  ].join("\n");
}

/** A control character (Unicode's Cc), as a range: a `\p{Cc}` pattern costs far more to compile at its first use. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The default consent file, as the user names it. */
const DEFAULT_FILE_NAME = "~/.config/nat/telemetry.toml";

/** The consent file as the question names it: the one `NAT_TELEMETRY_CONSENT_FILE` names, else the default's. */
function sharedFileName(): string {
  try {
    const named = host().env("NAT_TELEMETRY_CONSENT_FILE");
    return named && !CONTROL.test(named) ? named : DEFAULT_FILE_NAME;
  } catch {
    return DEFAULT_FILE_NAME;
  }
}

/**
 * What is wrong with an opt-out command given to name in the question, or `undefined` when nothing is: it must be a
 * non-empty string of one line with no control characters, as the user types it.
 *
 * @param name The option's name, for the message.
 * @param value The value given.
 * @returns The problem, e.g. "'optOut' must be a non-empty string, got 5".
 * @example
 * ```ts
 * import { optOutProblem } from "./prompt.ts";
 * optOutProblem("optOut", "mycli telemetry disable"); // undefined
 * ```
 */
export function optOutProblem(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "" || CONTROL.test(value)) {
    return `'${name}' must be a non-empty command of one line, with no control characters, got ${describe(value)}`;
  }
  return undefined;
}

/** The question: no answer is taken by default, lest an Enter typed ahead of it or pressed twice be a yes. */
const QUESTION = "Share anonymous usage data? [y/n] ";

/**
 * Keys read this soon after the question (or its repeat) shows were typed before it, or before its words could be
 * read: keys typed ahead while the program started, a pasted line, waiting in the terminal. None is taken as an
 * answer, nor left for the program; Ctrl-C still interrupts. The question shows once the code that asked has run
 * on; keys the program reads late all the same (a timer of its own working as it shows) are taken: a yes is a typed
 * `y`, never an Enter alone.
 *
 * @example
 * ```ts
 * import { TYPED_AHEAD_MS } from "./prompt.ts";
 * const answerable = (readAt: number, shownAt: number) => readAt - shownAt >= TYPED_AHEAD_MS;
 * answerable(1_050, 1_000); // false: typed ahead
 * ```
 */
export const TYPED_AHEAD_MS = 200;

/** What to do with a keystroke sequence: the line so far, and whether it is finished. */
interface LineState {
  text: string;
  /** `undefined` while typing; the answer line, or `null` for Ctrl-C / end of input. */
  result?: string | null | undefined;
  /** Set when the line ended with Ctrl-C. */
  interrupted?: boolean | undefined;
}

/**
 * Feeds raw keystrokes to a one-line editor: printable characters are added,
 * Backspace removes one, Enter finishes, Ctrl-C and Ctrl-D cancel (Ctrl-C also sets `interrupted`).
 *
 * @param state The line so far; updated in place.
 * @param bytes The keystrokes.
 * @returns What to echo.
 * @example
 * ```ts
 * import { editLine } from "./prompt.ts";
 * const state: { text: string; result?: string | null } = { text: "" };
 * editLine(state, new TextEncoder().encode("y\r")); // echoes "y\n"; state.result is "y"
 * ```
 */
export function editLine(state: LineState, bytes: Uint8Array): string {
  let echo = "";
  for (const byte of bytes) {
    if (state.result !== undefined) break;
    if (byte === 3 || byte === 4) {
      state.result = null;
      if (byte === 3) state.interrupted = true;
      echo += byte === 3 ? "^C\n" : "\n";
    } else if (byte === 13 || byte === 10) {
      state.result = state.text;
      echo += "\n";
    } else if ((byte === 127 || byte === 8) && state.text.length > 0) {
      state.text = state.text.slice(0, -1);
      echo += "\b \b";
    } else if (byte >= 32 && byte < 127 && state.text.length < 64) {
      state.text += String.fromCharCode(byte);
      echo += String.fromCharCode(byte);
    }
  }
  return echo;
}

/**
 * Reads an answer: `y` and `yes` are yes; `n` and `no` are no; anything else, an empty line too, is neither: a yes
 * is typed, never a default.
 *
 * @param line The typed line.
 * @returns The decision, or `undefined` to ask again.
 * @example
 * ```ts
 * import { parseAnswer } from "./prompt.ts";
 * parseAnswer(""); // undefined: asked again
 * parseAnswer(" No "); // "disabled"
 * ```
 */
export function parseAnswer(line: string): "enabled" | "disabled" | undefined {
  const answer = line.trim().toLowerCase();
  if (answer === "y" || answer === "yes") return "enabled";
  if (answer === "n" || answer === "no") return "disabled";
  return undefined;
}

/**
 * Asks the question on the terminal and records the answer (`askForConsent` decides whether to ask). Ctrl-C
 * records nothing and ends the program as Ctrl-C would: the process dies of SIGINT (or exits 130 where it cannot
 * signal itself); a program that listens for SIGINT gets the signal and decides, and this returns `never_asked`.
 *
 * @param terminal The user's terminal.
 * @param optOut The command the program's users run to opt out, named in the question.
 * @returns The decision recorded, or `never_asked` after Ctrl-C.
 * @example
 * ```ts ignore
 * const terminal = host().terminal();
 * if (terminal) await ask(terminal, "mycli telemetry disable");
 * ```
 */
export async function ask(terminal: HostTerminal, optOut: string | undefined): Promise<ConsentState> {
  const { writeStderr, monotonicMs } = host();
  let shownAt: number | undefined;
  let decision: "enabled" | "disabled" | undefined;
  let state: LineState = { text: "" };
  let attempts = 0;
  let interrupted = false;
  try {
    // readRaw switches the terminal to raw mode before it returns, so a Ctrl-C typed as soon as the
    // question shows is read as an answer, not delivered as a signal.
    const answered = terminal.readRaw((bytes) => {
      // One key at a time, so that those typed after the answer are left for the program.
      for (let used = 1; used <= bytes.length; used++) {
        const typedAhead = shownAt === undefined || monotonicMs() - shownAt < TYPED_AHEAD_MS;
        if (typedAhead && bytes[used - 1] !== 3) continue;
        writeStderr(editLine(state, bytes.subarray(used - 1, used)));
        if (state.result === undefined) continue;
        if (state.interrupted) {
          interrupted = true;
          return used;
        }
        decision = state.result === null ? "disabled" : parseAnswer(state.result);
        if (decision !== undefined || ++attempts === 3) return used;
        writeStderr(`Please answer y or n. ${QUESTION}`);
        shownAt = monotonicMs();
        state = { text: "" };
      }
      return undefined;
    });
    // Shown once the code that asked has run on: a program that goes on working before it awaits the question would
    // otherwise read keys typed before it late, past the window, as typed after it.
    await null;
    writeStderr(`${consentDisclosure(optOut, sharedFileName())}\n${QUESTION}`);
    shownAt = monotonicMs();
    await answered;
  } catch {
    // A terminal that fails or goes away mid-question (its window closed, the session hung up): no one answered, and
    // nothing is recorded; the run goes on with telemetry off, as nobody decided.
    return "never_asked";
  }
  if (interrupted) {
    // The terminal is back in its own mode: end as Ctrl-C would have ended the program, recording nothing.
    const runtime = host();
    if (!runtime.signalSelf("SIGINT")) runtime.exit(SIGNAL_EXIT_STATUS.SIGINT);
    // Still here: the program handles SIGINT itself. Its listener runs first; the question stays unanswered.
    await new Promise((resolve) => setTimeout(resolve, 50));
    return "never_asked";
  }
  decision ??= "disabled";
  setTelemetryEnabled(decision === "enabled");
  const saved = recordConsent(decision);
  writeStderr(
    `${decision === "enabled" ? "Thank you. Usage data will be shared." : "Usage data will not be shared."}${
      saved ? "" : " (Your choice could not be saved; you will be asked again.)"
    }\n\n`,
  );
  return decision;
}

/** The question of this process, once asked: asked once per process, whatever becomes of the answer. */
let question: Promise<ConsentState> | undefined;

/**
 * Asks for consent if nobody decided yet (the environment, the consent file, nor the program with
 * `setTelemetryEnabled`) and the program runs on an
 * interactive terminal (standard input, output and error all terminals, the
 * process in the foreground: never from a background job; not in CI; and the
 * program not reading its standard input itself, as a shell of its own does);
 * otherwise asks nothing. A process asks once: calls at the same time share
 * the question, and an answer that could not be saved holds for the run. Throws a `TypeError` for options it cannot use
 * (whether or not it would ask), never otherwise. Ctrl-C at the question records
 * nothing and ends the program as Ctrl-C would: the process dies of SIGINT
 * (or exits 130 where it cannot signal itself); a program that listens for
 * SIGINT gets the signal and decides, and this returns `never_asked`.
 *
 * @param options `optOut`: the command the program's users run to opt out (e.g. `mycli telemetry disable`),
 *   named in the question.
 * @returns The decision in force afterwards: `never_asked` when nothing was asked and nothing is recorded.
 * @example
 * ```ts
 * import { askForConsent } from "@nat/telemetry";
 * await askForConsent({ optOut: "mycli telemetry disable" }); // once, on the first interactive run
 * ```
 */
export async function askForConsent(options: { optOut?: string | undefined } = {}): Promise<ConsentState> {
  const problem = !isPlainObject(options)
    ? `options must be an object such as { optOut: "mycli telemetry disable" }, got ${describe(options)}`
    : unknownOption(options, { optOut: true }) ?? optOutProblem("optOut", options.optOut);
  if (problem) throw new TypeError(`Cannot ask for consent: ${problem}`);
  const current = settledDecision();
  if (current.source !== "default") return current.enabled ? "enabled" : "disabled";
  if (question) return await question;
  // The program turned telemetry on or off from a setting of its own: its user has answered it.
  if (programHasDecided()) return "never_asked";
  // A CI job with a terminal (`docker run -t`, a runner's pseudo-terminal) has no one to answer.
  if (runsInCI()) return "never_asked";
  // Nor does a test runner's process: a CLI's own tests, calling its main (Jest, Vitest, `bun test`).
  if (runsUnderTestRunner()) return "never_asked";
  const terminal = host().terminal();
  if (!terminal) return "never_asked";
  question = ask(terminal, options.optOut);
  return await question;
}
