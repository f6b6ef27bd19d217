/**
 * JSON text as `JSON.stringify` writes it without indenting, whatever a program made of `JSON.stringify`: one
 * replaced with a version that indents (a debugging aid) breaks a value over lines, where the files read line by
 * line (the spool, the record of drops) would read each piece as a corrupt event, and changes the spool's key, which a
 * sender, in a process of its own, computes without it. In JSON whitespace outside strings is only between tokens
 * (within a string a line break is escaped), so taking it out leaves the same value. Nor does a `toJSON` a program
 * put on `Object.prototype` (or `Array.prototype`) count: `JSON.stringify` would write its answer for every object
 * (a body that is no JSON), or throw a RangeError where it recurses.
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
  // Where a value writes nothing (undefined, a function): what JSON.stringify answers for it, as its type says.
  const text = (toJsonInherited() ? plainJson(value) : undefined) ?? JSON.stringify(value);
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

/**
 * Whether objects and arrays may inherit a `toJSON` (a program's, on `Object.prototype` or `Array.prototype`), or
 * something stands between the two (a Proxy made `Array.prototype`'s prototype could answer `in` otherwise than
 * `JSON.stringify`'s reads).
 */
function toJsonInherited(): boolean {
  try {
    return prototypeOf(Array.prototype) !== Object.prototype || "toJSON" in Array.prototype;
  } catch {
    return true;
  }
}

/** `Object.getPrototypeOf` as the package loaded: a program's own, put there later, is not asked. */
const prototypeOf = Object.getPrototypeOf;

/**
 * The JSON text of data (objects, arrays, strings, numbers, booleans, null, as the package builds them) written as
 * `JSON.stringify` writes it, without calling any `toJSON`; `undefined` where it writes nothing.
 */
function plainJson(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return JSON.stringify(value); // no `toJSON` asked of a primitive
  if (Array.isArray(value)) return `[${value.map((item) => plainJson(item) ?? "null").join(",")}]`;
  const members: string[] = [];
  for (const key of Object.keys(value)) {
    const json = plainJson((value as Record<string, unknown>)[key]);
    if (json !== undefined) members.push(`${JSON.stringify(key)}:${json}`);
  }
  return `{${members.join(",")}}`;
}
