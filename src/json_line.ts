/**
 * JSON text on one line, for the files read line by line (the spool, the record of drops), whatever a program made
 * of `JSON.stringify`: one replaced with a version that indents (a debugging aid) breaks a value over lines, and each
 * piece would be read as a corrupt event. In JSON a line break can only be whitespace between tokens (within a string
 * it is escaped), so taking it out leaves the same value.
 *
 * @module
 */

/**
 * `JSON.stringify(value)`, without line breaks.
 *
 * @param value What to serialize.
 * @returns Its JSON text, on one line.
 * @example
 * ```ts
 * import { jsonLine } from "./json_line.ts";
 * jsonLine({ command: "run" }); // '{"command":"run"}'
 * ```
 */
export function jsonLine(value: unknown): string {
  const text = JSON.stringify(value);
  return /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, "") : text;
}
