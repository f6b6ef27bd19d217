/**
 * The names an event carries where a program could pass a user's text on: a command's or subcommand's name, which
 * the program fixes (`run`, `mcp serve`, `db/migrate`), and an error's class (`ValueError`). What is plainly no such
 * name (a flag, a path, a URL, an address, an error's message) may be what a user typed, and is reported as
 * `"undefined"`, the debug trail saying why, rather than sent, or thrown at the user running the program.
 *
 * @module
 */
import { debugTrail } from "./debug.ts";

/**
 * No blank at either end, no flag (`-x`), no leading `/`, `~` or `+`, no `.` (a file, a host, an address), `@`, `\\`,
 * `:/` or `:` before a digit (a port), no run of 4 digits (a number, a key) or of 8 hex digits with a digit among them
 * (a hash, a key; `sendFeedback` has only letters), no token of a known kind (a prefix, GitHub's `ghp_`, GitLab's
 * `glpat-`, Slack's `xoxb-`, AWS's `AKIA`, Google's `AIza`, npm's `npm_`, `sk-`, `sk_`, `rk_` or a JWT's `eyJ`, then 16
 * or more of its characters; `linkDebugTestLinuxX64` is a name), no hex number (`0xc0a8010a`, which a URL's parser
 * reads as an address), no second `/` (a relative path: `home/jdoe/notes`), no percent-escape (`www%2Eexample%2Ecom`,
 * which a URL's parser reads as a host's name). What is refused is only reported as `"undefined"`, so the shape errs
 * on the side of refusing; `db:migrate`, `db/migrate` and `eval-v2` pass.
 */
const COMMAND_SHAPE =
  /^(?![/~+])(?!.*(?:[.@\\]|:\/|:\d|\d{4}|(?=[\dA-Fa-f]{8})[A-Fa-f]{0,7}\d|(?:^|[^\dA-Za-z])(?:gh[opsur]_|github_pat_|glpat-|xox[abposr]-|AKIA|ASIA|AIza|npm_|sk[-_]|rk_|eyJ)[\w-]{16}|0[Xx][\dA-Fa-f]|(?:^|\s)-|\/.*\/|%[\dA-Fa-f]{2}))\S(?:.*\S)?$/;

/**
 * A pattern of Unicode's classes, made at its first use. Not a literal: V8 checks a `\p{…}` literal's classes as it
 * parses the module, which cost every Node.js run 2 ms (a fifth of the package's load) for names that are nearly
 * always printable ASCII, read without it.
 */
function madeOnFirstUse(source: string): () => RegExp {
  let pattern: RegExp | undefined;
  return () => pattern ??= new RegExp(source, "u");
}

/** Characters no command name has: control, format, combining, private, unassigned or lone surrogate ones, fillers. */
const notInAName = madeOnFirstUse(String.raw`[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{M}\u115f\u1160\u2800\u3164\uffa0]`);

/**
 * An error class's name, as a program's language spells one: a letter, `_` or `$`, then letters and digits; qualified
 * (`requests.exceptions.HTTPError`, `Foo::Bar`) too. No blank, so never an error's message.
 */
const CLASS_NAME = /^[A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$][\w$]*)*$/;
/** The same, in any script (`ÜberError`): only such a name pays for its pattern. */
const classNameAnyScript = madeOnFirstUse(String.raw`^[\p{L}_$][\p{L}\p{N}_$]*(?:(?:\.|::)[\p{L}_$][\p{L}\p{N}_$]*)*$`);

/**
 * Whether a command's name is one the program fixes, not a command line (a flag), a path, a URL, an address, or
 * text: 1-64 characters, no blank at either end, no control, invisible or combining character.
 */
function isCommandName(name: string): boolean {
  if (name.length > 64 || !COMMAND_SHAPE.test(name)) return false;
  // Printable ASCII is read at once; anything else against Unicode's classes, whose pattern costs Node.js and Deno
  // half a millisecond to compile at its first use: only a name that needs it pays that, and its normalizing, which
  // loads ICU's tables (a millisecond). Its compatibility forms are read as what they stand for (a full-width `＠` or
  // `．` is an address's or a file's), and an ideographic full stop as the dot a URL's parser takes it for
  // (`www。example。com` is a host's name).
  if (/^[ -~]*$/.test(name)) return true;
  return !notInAName().test(name) && COMMAND_SHAPE.test(name.normalize("NFKC").replaceAll("\u3002", "."));
}

/**
 * Whether a name the program gives is reported as it is: a command's fixed name, or `"undefined"`.
 *
 * @param name The name.
 * @returns `false` for what would be reported as `"undefined"` (a flag, a path, a URL, an address, text).
 * @example
 * ```ts
 * import { isReportableName } from "./command_name.ts";
 * isReportableName("db migrate"); // true
 * isReportableName("config.get"); // false: a file's or a host's name, to the check
 * ```
 */
export function isReportableName(name: string): boolean {
  return name === "undefined" || isCommandName(name);
}

/**
 * Whether an error class's name is reported as it is.
 *
 * @param name The name.
 * @returns `false` for what would be reported as `"undefined"` (no class's name: an error's message).
 * @example
 * ```ts
 * import { isReportableClassName } from "./command_name.ts";
 * isReportableClassName("ValueError"); // true
 * isReportableClassName("config-error"); // false
 * ```
 */
export function isReportableClassName(name: string): boolean {
  return name.length <= 64 && (/^[ -~]*$/.test(name) ? CLASS_NAME : classNameAnyScript()).test(name);
}

/**
 * A command's or subcommand's name as it may be reported: `"undefined"` for what is no such name, or not a string.
 *
 * @param field The event's field, named in the trail.
 * @param name What the program passed.
 * @returns The name, or `"undefined"`.
 * @example
 * ```ts
 * import { reportableName } from "./command_name.ts";
 * reportableName("command", "db migrate"); // "db migrate"
 * reportableName("command", "./notes.txt"); // "undefined"
 * ```
 */
export function reportableName(field: "command" | "subcommand", name: unknown): string {
  if (typeof name === "string" && isReportableName(name)) return name;
  // Not echoed: it may be a user's text, and a trail ends up in bug reports.
  const what = typeof name === "string" ? `(${name.length} characters)` : `(${typeof name}, not a string)`;
  debugTrail()?.(
    `'${field}' ${what} is not a command's fixed name (1-64 characters, no flag, path, URL, address or invisible ` +
      `character; never the arguments): reported as "undefined"`,
  );
  return "undefined";
}

/**
 * An error class's name as it may be reported: `"undefined"` for what is no class's name (an error's message, which
 * may hold a path or a user's text).
 *
 * @param name What the program passed.
 * @returns The name, or `"undefined"`.
 * @example
 * ```ts
 * import { reportableClassName } from "./command_name.ts";
 * reportableClassName("ValueError"); // "ValueError"
 * reportableClassName("cannot open /home/ada/notes.txt"); // "undefined"
 * ```
 */
export function reportableClassName(name: string): string {
  if (isReportableClassName(name)) return name;
  debugTrail()?.(
    `'errorClass' (${name.length} characters) is not a class's name (1-64 characters, a letter, then letters and ` +
      `digits; never the error's message): reported as "undefined"`,
  );
  return "undefined";
}
