/**
 * JSON text exactly as Python's `json.dumps(value)` writes it, for the
 * `stdout` sink: `", "` and `": "` separators, every non-ASCII character
 * escaped as `\uXXXX` (astral ones as a surrogate pair), and floats spelled
 * as Python's `repr` spells them. Output written against the Python tool's
 * debug lines (greps, parsers) reads ours unchanged.
 *
 * @module
 */

/**
 * Serializes a JSON value as Python's `json.dumps` does with its defaults.
 * Whole numbers are written as Python writes an `int`.
 *
 * @param value A JSON value (objects keep their key order).
 * @returns The text.
 * @example
 * ```ts
 * import { pythonJsonDumps } from "./python_json.ts";
 * pythonJsonDumps({ a: [1, 2.5e-7], b: "é" }); // '{"a": [1, 2.5e-07], "b": "\\u00e9"}'
 * ```
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return asciiString(value);
  if (typeof value === "number") return pythonNumber(value);
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.map(([key, v]) => `${asciiString(key)}: ${pythonJsonDumps(v)}`).join(", ")}}`;
  }
  return "null";
}

/** A JSON string with `ensure_ascii`: JSON.stringify escapes the same control characters, in lower-case hex. */
function asciiString(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Python's `repr` of a float: fixed notation for exponents from -4 to 15, else `d.ddde±XX`. */
function pythonNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "Infinity" : "-Infinity";
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return String(n);
  const [mantissa, exponentText] = n.toExponential().split("e");
  const exponent = Number(exponentText);
  if (exponent >= -4 && exponent < 16) {
    const fixed = String(n);
    return Number.isInteger(n) ? `${fixed}.0` : fixed;
  }
  return `${mantissa}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
}
