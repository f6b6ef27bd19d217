/**
 * A TOML 1.0 reader, small and strict, for the consent file: it reads what
 * Python's `tomllib` reads (tables, dotted and quoted keys, inline tables,
 * arrays, every string, number, boolean and date form), and throws on what
 * `tomllib` rejects (duplicate keys, tables defined twice, malformed values),
 * so a valid file never reads as something it does not say. Dates and times
 * are kept as their text: the consent file uses none as data.
 *
 * @module
 */

/** A TOML value as this reader returns it. */
export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;

/** A TOML table. */
export interface TomlTable {
  [key: string]: TomlValue;
}

const BARE_KEY = /[A-Za-z0-9_-]/;
/**
 * A date, a time or both, in the ranges `tomllib` reads (hours 00-23, minutes and seconds 00-59, offsets under 24
 * hours, months 01-12): the day of the month, captured, is checked against its month and year apart.
 */
const DATE_TIME =
  /(?:(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?:[Tt ](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?|(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?)/y;
const NUMBER =
  /(?:[+-]?(?:inf|nan)|0x[0-9A-Fa-f](?:_?[0-9A-Fa-f])*|0o[0-7](?:_?[0-7])*|0b[01](?:_?[01])*|[+-]?(?:0|[1-9](?:_?\d)*)(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?)/y;

/**
 * The most digits of a decimal integer: Python reads no more (`sys.get_int_max_str_digits()`), and `tomllib` fails;
 * hexadecimal, octal and binary ones have no such limit.
 */
const MAX_DIGITS = 4300;

/**
 * Arrays and inline tables nested deeper than this are refused: the same in every runtime, whatever its stack
 * (Python's `tomllib` runs out of recursion at 300-500 levels; no consent file nests at all).
 */
const MAX_NESTING = 100;

/** Tables created implicitly (by a dotted key or a header's prefix), which a header may still define once. */
type Origin = "implicit" | "header" | "dotted" | "inline" | "array";

/**
 * Parses a TOML document.
 *
 * @param text The document.
 * @returns Its root table.
 * @throws {SyntaxError} When the text is not valid TOML.
 * @example
 * ```ts
 * import { parseToml } from "./toml.ts";
 * parseToml('telemetry.consent = "disabled"'); // { telemetry: { consent: "disabled" } }
 * ```
 */
export function parseToml(text: string): TomlTable {
  return new Parser(text).document();
}

class Parser {
  readonly #text: string;
  #at = 0;
  #depth = 0;
  readonly #origins = new WeakMap<object, Origin>();

  constructor(text: string) {
    this.#text = text;
  }

  document(): TomlTable {
    const root: TomlTable = {};
    let current = root;
    for (;;) {
      this.#skipBlank();
      if (this.#at >= this.#text.length) return root;
      if (this.#peek() === "[") current = this.#header(root);
      else this.#pair(current);
      this.#endOfLine();
    }
  }

  #header(root: TomlTable): TomlTable {
    const isArray = this.#text.startsWith("[[", this.#at);
    this.#at += isArray ? 2 : 1;
    const path = this.#key();
    this.#expect(isArray ? "]]" : "]");
    let table = root;
    for (const [i, key] of path.entries()) {
      const last = i === path.length - 1;
      if (last && isArray) {
        const list = own(table, key) ?? this.#mark([], "array");
        if (!Array.isArray(list) || this.#origins.get(list) !== "array") {
          this.#fail(`'${key}' is not an array of tables`);
        }
        const entry = this.#mark({}, "header");
        list.push(entry);
        put(table, key, list);
        return entry;
      }
      let next = own(table, key);
      if (next === undefined) put(table, key, next = this.#mark({}, last ? "header" : "implicit"));
      else if (Array.isArray(next) && this.#origins.get(next) === "array" && !last) next = next[next.length - 1];
      else if (!isTable(next)) this.#fail(`'${key}' is not a table`);
      else if (last) {
        if (this.#origins.get(next) !== "implicit") this.#fail(`table '${path.join(".")}' is defined twice`);
        this.#origins.set(next, "header");
      } else if (this.#origins.get(next) === "inline") this.#fail(`'${key}' is an inline table`);
      table = next as TomlTable;
    }
    return table;
  }

  #pair(table: TomlTable): void {
    const path = this.#key();
    this.#skipSpaces();
    this.#expect("=");
    this.#skipSpaces();
    const value = this.#value();
    let target = table;
    for (const key of path.slice(0, -1)) {
      let next = own(target, key);
      if (next === undefined) put(target, key, next = this.#mark({}, "dotted"));
      else if (!isTable(next) || !["dotted", "implicit"].includes(this.#origins.get(next) ?? "")) {
        this.#fail(`'${key}' is already defined`);
      }
      if (this.#origins.get(next) === "implicit") this.#origins.set(next, "dotted");
      target = next as TomlTable;
    }
    const last = path[path.length - 1];
    if (Object.hasOwn(target, last)) this.#fail(`'${last}' is defined twice`);
    put(target, last, value);
  }

  #key(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.#skipSpaces();
      const c = this.#peek();
      if (c === '"') parts.push(this.#basicString());
      else if (c === "'") parts.push(this.#literalString());
      else {
        const start = this.#at;
        while (this.#at < this.#text.length && BARE_KEY.test(this.#text[this.#at])) this.#at++;
        if (this.#at === start) this.#fail("a key is missing");
        parts.push(this.#text.slice(start, this.#at));
      }
      this.#skipSpaces();
      if (this.#peek() !== ".") return parts;
      this.#at++;
    }
  }

  #value(): TomlValue {
    const c = this.#peek();
    if (this.#text.startsWith('"""', this.#at)) return this.#multilineBasic();
    if (this.#text.startsWith("'''", this.#at)) return this.#multilineLiteral();
    if (c === '"') return this.#basicString();
    if (c === "'") return this.#literalString();
    if (c === "[" || c === "{") {
      if (++this.#depth > MAX_NESTING) this.#fail("values are nested too deeply");
      const nested = c === "[" ? this.#array() : this.#inlineTable();
      this.#depth--;
      return nested;
    }
    for (const [word, value] of [["true", true], ["false", false]] as const) {
      if (this.#text.startsWith(word, this.#at) && !BARE_KEY.test(this.#text[this.#at + word.length] ?? "")) {
        this.#at += word.length;
        return value;
      }
    }
    const date = this.#take(DATE_TIME, /[\w:.+-]/);
    if (date) {
      const [text, year, month, day] = date;
      if (year !== undefined && !isCalendarDate(Number(year), Number(month), Number(day))) {
        this.#fail("a date is not in the calendar");
      }
      return text;
    }
    const number = this.#take(NUMBER, /[\w.+-]/);
    if (!number) return this.#fail("a value is malformed");
    if (/^[+-]?\d[\d_]*$/.test(number[0]) && number[0].replace(/\D/g, "").length > MAX_DIGITS) {
      this.#fail(`an integer has more than ${MAX_DIGITS} digits`);
    }
    return toNumber(number[0]);
  }

  /**
   * What a sticky pattern matches where the reader is, however long (a date's fraction, a number's digits), unless the
   * character after it would go on with it; the reader moves past it.
   */
  #take(pattern: RegExp, goesOn: RegExp): RegExpExecArray | undefined {
    pattern.lastIndex = this.#at;
    const match = pattern.exec(this.#text);
    if (!match || goesOn.test(this.#text[pattern.lastIndex] ?? "")) return undefined;
    this.#at = pattern.lastIndex;
    return match;
  }

  #array(): TomlValue[] {
    this.#at++;
    const list: TomlValue[] = [];
    for (;;) {
      this.#skipBlank();
      if (this.#peek() === "]") break;
      list.push(this.#value());
      this.#skipBlank();
      if (this.#peek() === ",") this.#at++;
      else if (this.#peek() !== "]") this.#fail("an array is malformed");
    }
    this.#at++;
    return list;
  }

  #inlineTable(): TomlTable {
    this.#at++;
    const table = this.#mark({}, "inline");
    this.#skipSpaces();
    if (this.#peek() === "}") {
      this.#at++;
      return table;
    }
    for (;;) {
      this.#pair(table);
      this.#skipSpaces();
      const c = this.#text[this.#at++];
      if (c === "}") break;
      if (c !== ",") this.#fail("an inline table is malformed");
    }
    this.#freeze(table);
    return table;
  }

  /** Tables made by dotted keys inside an inline table are closed too. */
  #freeze(table: TomlTable): void {
    this.#origins.set(table, "inline");
    for (const value of Object.values(table)) if (isTable(value)) this.#freeze(value);
  }

  #basicString(): string {
    this.#at++;
    let out = "";
    for (;;) {
      const c = this.#text[this.#at++];
      if (c === undefined || c === "\n") return this.#fail("a string is not closed");
      if (c === '"') return out;
      if (c === "\\") out += this.#escape();
      else if (isControl(c) && c !== "\t") this.#fail("a string holds a control character");
      else out += c;
    }
  }

  #literalString(): string {
    this.#at++;
    const end = this.#text.indexOf("'", this.#at);
    const value = end < 0 ? "" : this.#text.slice(this.#at, end);
    if (end < 0 || value.includes("\n") || [...value].some((c) => isControl(c) && c !== "\t")) {
      this.#fail("a literal string is malformed");
    }
    this.#at = end + 1;
    return value;
  }

  #multilineBasic(): string {
    this.#at += 3;
    if (this.#text.startsWith("\r\n", this.#at)) this.#at += 2;
    else if (this.#peek() === "\n") this.#at++;
    let out = "";
    for (;;) {
      if (this.#text.startsWith('"""', this.#at)) {
        // Up to two quotes may end the content: `""""` or `"""""`.
        let quotes = 3;
        while (quotes < 5 && this.#text[this.#at + quotes] === '"') quotes++;
        this.#at += quotes;
        return out + '"'.repeat(quotes - 3);
      }
      const c = this.#text[this.#at++];
      if (c === undefined) return this.#fail("a string is not closed");
      if (c === "\\") {
        const trimmed = /^[ \t]*\r?\n[\s]*/.exec(this.#text.slice(this.#at));
        if (trimmed) this.#at += trimmed[0].length;
        else out += this.#escape();
      } else if (isControl(c) && c !== "\n" && c !== "\t" && !(c === "\r" && this.#peek() === "\n")) {
        this.#fail("a string holds a control character");
      } else out += c;
    }
  }

  #multilineLiteral(): string {
    this.#at += 3;
    if (this.#text.startsWith("\r\n", this.#at)) this.#at += 2;
    else if (this.#peek() === "\n") this.#at++;
    const end = this.#text.indexOf("'''", this.#at);
    if (end < 0) return this.#fail("a string is not closed");
    let quotes = 3;
    while (quotes < 5 && this.#text[end + quotes] === "'") quotes++;
    const value = this.#text.slice(this.#at, end) + "'".repeat(quotes - 3);
    this.#at = end + quotes;
    return value;
  }

  #escape(): string {
    const c = this.#text[this.#at++];
    const simple: Record<string, string> = { b: "\b", t: "\t", n: "\n", f: "\f", r: "\r", '"': '"', "\\": "\\" };
    if (c in simple) return simple[c];
    const digits = c === "u" ? 4 : c === "U" ? 8 : 0;
    const hex = this.#text.slice(this.#at, this.#at + digits);
    const code = parseInt(hex, 16);
    if (!digits || !/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== digits || code > 0x10ffff) {
      return this.#fail("a string holds an invalid escape");
    }
    if (code >= 0xd800 && code <= 0xdfff) this.#fail("a string holds an invalid escape");
    this.#at += digits;
    return String.fromCodePoint(code);
  }

  #skipSpaces(): void {
    while (this.#peek() === " " || this.#peek() === "\t") this.#at++;
  }

  /** Spaces, newlines and comments. */
  #skipBlank(): void {
    for (;;) {
      this.#skipSpaces();
      const c = this.#peek();
      if (c === "\n") this.#at++;
      else if (c === "\r" && this.#text[this.#at + 1] === "\n") this.#at += 2;
      else if (c === "#") this.#comment();
      else return;
    }
  }

  #comment(): void {
    while (this.#at < this.#text.length && this.#peek() !== "\n") {
      const c = this.#text[this.#at++];
      if (isControl(c) && c !== "\t" && !(c === "\r" && this.#peek() === "\n")) this.#fail("a comment is malformed");
    }
  }

  #endOfLine(): void {
    this.#skipSpaces();
    if (this.#peek() === "#") this.#comment();
    if (this.#text.startsWith("\r\n", this.#at)) this.#at += 2;
    else if (this.#peek() === "\n") this.#at++;
    else if (this.#at < this.#text.length) this.#fail("a line has more than one statement");
  }

  #expect(token: string): void {
    if (!this.#text.startsWith(token, this.#at)) this.#fail(`'${token}' is missing`);
    this.#at += token.length;
  }

  #peek(): string | undefined {
    return this.#text[this.#at];
  }

  #mark<T extends object>(value: T, origin: Origin): T {
    this.#origins.set(value, origin);
    return value;
  }

  #fail(problem: string): never {
    const line = this.#text.slice(0, this.#at).split("\n").length;
    throw new SyntaxError(`Invalid TOML at line ${line}: ${problem}`);
  }
}

/**
 * A table's own entry: not what its prototype has (`toString`, `constructor`), which are ordinary keys in TOML, as
 * Python's tomllib reads them.
 */
function own(table: TomlTable, key: string): TomlValue | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Sets a table's entry as its own property, `__proto__` included (assigned, that name would set the prototype). */
function put(table: TomlTable, key: string, value: TomlValue): void {
  Object.defineProperty(table, key, { value, writable: true, enumerable: true, configurable: true });
}

function isTable(value: TomlValue | undefined): value is TomlTable {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isControl(c: string): boolean {
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f;
}

/** Whether a day of a month is in the calendar (proleptic Gregorian, years 1-9999, as Python's `date`). */
function isCalendarDate(year: number, month: number, day: number): boolean {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  return year >= 1 && day <= days;
}

function toNumber(text: string): number {
  const clean = text.replaceAll("_", "");
  if (/^[+-]?inf$/.test(clean)) return clean.startsWith("-") ? -Infinity : Infinity;
  if (/^[+-]?nan$/.test(clean)) return NaN;
  return Number(clean); // Number() reads 0x, 0o and 0b too
}
