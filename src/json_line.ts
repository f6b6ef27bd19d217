/**
 * JSON text as `JSON.stringify` writes it without indenting, whatever a program made of `JSON.stringify`: one
 * replaced with a version that indents (a debugging aid) breaks a value over lines, where the files read line by
 * line (the spool, the record of drops) would read each piece as a corrupt event, and changes the spool's key, which a
 * sender, in a process of its own, computes without it. In JSON whitespace outside strings is only between tokens
 * (within a string a line break is escaped), so taking it out leaves the same value.
 *
 * @module
 */

/**
 * `JSON.stringify(value)`, compact: on one line, with no whitespace between tokens.
 *
 * @param value What to serialize.
 * @returns Its JSON text.
 * @example
 * ```ts
 * import { jsonLine } from "./json_line.ts";
 * jsonLine({ command: "run" }); // '{"command":"run"}'
 * ```
 */
export function jsonLine(value: unknown): string {
  const text = JSON.stringify(value);
  // Indenting always breaks lines: text without a line break is what JSON.stringify writes.
  return typeof text === "string" && /[\r\n]/.test(text) ? compact(text) : text;
}

/** JSON text without the whitespace between its tokens; what is within strings is kept. */
function compact(text: string): string {
  let out = "";
  let inString = false;
  for (let at = 0; at < text.length; at++) {
    const char = text[at];
    if (inString) {
      out += char;
      if (char === "\\") out += text[++at] ?? "";
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
      out += char;
    } else if (!" \t\r\n".includes(char)) {
      out += char;
    }
  }
  return out;
}
