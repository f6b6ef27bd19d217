/**
 * Describes a value for an error message without echoing it at length, and
 * without ever throwing (a getter, a Proxy or a circular object is fine).
 *
 * @param value Anything.
 * @returns A short description, e.g. `"run"`, `-1`, `undefined`, `an object`, `a function`.
 * @example
 * ```ts
 * import { describe } from "./describe.ts";
 * describe(-1); // "-1"
 * describe({}); // "an object"
 * ```
 */
export function describe(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case "number":
    case "boolean":
    case "undefined":
      return String(value);
    case "bigint":
      return `${value}n`;
    case "object":
      return value === null ? "null" : "an object";
    default:
      return `a ${typeof value}`;
  }
}
