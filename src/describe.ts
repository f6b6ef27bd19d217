/**
 * Helpers for error messages: a short description of any value or caught error, and the known name nearest to a
 * typo.
 *
 * @module
 */
import { utf8Base64 } from "./runtime/proxy_settings.ts";

/**
 * What went wrong, in one line, whatever was thrown: an `Error`'s message, else the kind of value thrown; never
 * throws (a getter may throw anything).
 *
 * @param error What was caught.
 * @returns The message, e.g. `"refused /x: not_owner"`, or `"threw string"`.
 * @example
 * ```ts
 * import { describeError } from "./describe.ts";
 * describeError(new Error("disk full")); // "disk full"
 * ```
 */
export function describeError(error: unknown): string {
  try {
    return error instanceof Error ? error.message : `threw ${typeof error}`;
  } catch {
    return "threw something that cannot be described";
  }
}

/**
 * The values a field accepts, for an error message: each written as code writes it, so that the string
 * `"undefined"` (a value of the schema's) is told apart from a value that is missing.
 *
 * @param values The accepted values.
 * @returns Them, quoted, separated by commas.
 * @example
 * ```ts
 * import { choices } from "./describe.ts";
 * choices(["success", "undefined"]); // '"success", "undefined"'
 * ```
 */
export function choices(values: readonly string[]): string {
  return values.map((value) => JSON.stringify(value)).join(", ");
}

/**
 * Describes a value for an error message without echoing it at length, and
 * without ever throwing (a getter, a Proxy or a circular object is fine).
 *
 * @param value Anything.
 * @returns A short description, e.g. `"run"`, `-1`, `undefined`, `an object`, `an array`, `a Promise`, `a function`.
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
    case "object": {
      if (value === null) return "null";
      const kind = builtInTag(value)?.slice(8, -1);
      if (kind === undefined) return "an object that cannot be read";
      return kind === "Object" ? "an object" : kind === "Array" ? "an array" : `a ${kind}`;
    }
    default:
      return `a ${typeof value}`;
  }
}

/**
 * Whether a value can be read as a record through its own properties: an object written `{...}`, made with
 * `Object.create(null)`, a module's namespace, an instance of a class that does not name itself; not an array,
 * a promise, a Map, Headers, an iterator or any other kind that keeps its contents elsewhere (whatever
 * `Object.prototype.toString` names other than `Object` and `Module`). Never throws (a Proxy whose traps throw
 * is not one).
 *
 * @param value Anything.
 * @returns `true` for such an object.
 * @example
 * ```ts
 * import { isPlainObject } from "./describe.ts";
 * isPlainObject({ a: "1" }); // true
 * isPlainObject(new Map([["a", "1"]])); // false
 * ```
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const tag = builtInTag(value); // compared whole: this runs twice per event, and a slice is a string more each time
  return tag === "[object Object]" || tag === "[object Module]";
}

/**
 * Whether a value is a promise or another thenable (from any realm, whatever it calls itself); one whose `then`
 * cannot even be read counts as one. Never throws.
 *
 * @param value Anything.
 * @returns `true` when it has a `then` method, or hides whether it has one.
 * @example
 * ```ts
 * import { isThenable } from "./describe.ts";
 * isThenable(Promise.resolve(1)); // true
 * isThenable({ then: 1 }); // false
 * ```
 */
export function isThenable(value: unknown): boolean {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  try {
    return typeof (value as { then?: unknown }).then === "function";
  } catch {
    return true;
  }
}

/** What `Object.prototype.toString` says of an object: `[object Object]`, `[object Array]`...; never throws. */
function builtInTag(value: object): string | undefined {
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return undefined; // a revoked Proxy
  }
}

/**
 * The first key of an options object that is not a known option, as an error message says it, with the known
 * name nearest to it.
 *
 * @param options The options given.
 * @param known The known options, by name.
 * @returns E.g. `'endpiont' is not an option (did you mean 'endpoint'?)`, or `undefined` when every key is known.
 * @example
 * ```ts
 * import { unknownOption } from "./describe.ts";
 * unknownOption({ endpiont: "" }, { endpoint: true, format: true }); // "'endpiont' is not an option (did you mean 'endpoint'?)"
 * ```
 */
export function unknownOption(options: object, known: Readonly<Record<string, unknown>>): string | undefined {
  const key = Object.keys(options).find((name) => !Object.hasOwn(known, name));
  if (key === undefined) return undefined;
  const names = Object.keys(known);
  const closest = closestName(key, names);
  return `'${key}' is not an option (${closest ? `did you mean '${closest}'?` : `the options: ${names.join(", ")}`})`;
}

/**
 * The known name closest to a mistyped one, for "did you mean": the one name it begins (`flushInterval` for
 * `flushIntervalSeconds`, its unit left out), else the fewest edits away (a swap of two neighbouring letters counts as
 * one); case, `_` and `-` ignored, so the Python handler's `max_queue_size` finds `maxQueueSize`. None when even the
 * closest is more than a slip away.
 */
function closestName(word: string, names: readonly string[]): string | undefined {
  const plain = (name: string) => name.toLowerCase().replace(/[_-]/g, "");
  const begun = names.filter((name) => plain(word).length >= 4 && plain(name).startsWith(plain(word)));
  if (begun.length === 1) return begun[0];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const distance = editDistance(plain(word), plain(name));
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return bestDistance <= Math.max(3, Math.floor(plain(word).length / 3)) ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
      }
    }
  }
  return rows[a.length][b.length];
}

/**
 * A URL with its credentials and query masked, for printing: an endpoint's user name or password may be a key
 * (`https://KEY@host`), and so may a query's value or a bare query (`?KEY`). Text that is no URL with a host, or
 * has an `@` that is not its credentials' end (a password with a `/`, `?` or `#` in it, which the parser makes a host
 * and a path; a URL without its scheme), has everything before its last `@` (but a scheme's `//`) masked, and
 * everything after a `?`.
 *
 * @param url A URL, or any text.
 * @returns The URL with `***` for its user name, password, each query value and each bare query; the text unchanged
 *   when it has none of them.
 * @example
 * ```ts
 * import { redact } from "./describe.ts";
 * redact("https://ingest:t0ken@example.com/v1"); // "https://***:***@example.com/v1"
 * redact("https://example.com/v1?api-key=t0ken&KEY"); // "https://example.com/v1?api-key=***&***"
 * redact("https://ingest:t0ken@example.com:99999/v1"); // "https://***@example.com:99999/v1" (not a URL)
 * redact("ingest:t0ken@example.com:4318"); // "***@example.com:4318" (no scheme)
 * redact("https://t0k/en=@example.com/v1"); // "https://***@example.com/v1" (a host "t0k" to the parser)
 * ```
 */
export function redact(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // Masked below.
  }
  // `ada:pw@host` parses, as a URL of the scheme `ada:` with no host: its password is no password to the parser; nor
  // is `https://k3y/base64=@host`'s, a URL of the host "k3y". An `@` is the credentials' end where it is the one
  // there is, and the parser read credentials before it.
  const ats = url.split("@").length - 1;
  const credentialsEnd = ats === 0 || (ats === 1 && (parsed?.username !== "" || parsed?.password !== ""));
  if (parsed === undefined || parsed.host === "" || !credentialsEnd) {
    return url.replace(/^([a-z][a-z\d+.-]*:\/\/)?[\s\S]*@/i, "$1***@").replace(/\?[\s\S]*$/, "?***");
  }
  if (parsed.username === "" && parsed.password === "" && parsed.search === "") return url;
  if (parsed.username !== "") parsed.username = "***";
  if (parsed.password !== "") parsed.password = "***";
  if (parsed.search !== "") {
    const masked = [...parsed.searchParams].map(([key, value]) =>
      value === "" ? "***" : `${encodeURIComponent(key)}=***`
    );
    parsed.search = masked.join("&");
  }
  return parsed.href;
}

/**
 * A text with every URL in it masked as {@link redact} masks one (JSON's escaped slashes too), the secrets of
 * `url` (its user name, password and query values, as written and decoded) and the `headers` values sent with it,
 * wherever they are: what a program's fetch threw may quote the URL and the request it was given in any shape.
 *
 * @param text The text, e.g. an error's message.
 * @param url The URL whose secrets are masked wherever they appear.
 * @param headers The headers sent with it, whose values (and each long word of them) are masked wherever they appear.
 * @returns The text, masked.
 * @example
 * ```ts
 * import { maskUrls } from "./describe.ts";
 * maskUrls("cannot sign http://ada:pw@host/e"); // "cannot sign http://***:***@host/e"
 * maskUrls("no key for ada:s3cret@host", "http://ada:s3cret@host/e"); // "no key for ***:***@host"
 * maskUrls('sent {"x-api-key":"k-0123456789"}', undefined, { "x-api-key": "k-0123456789" }); // 'sent {"x-api-key":"***"}'
 * ```
 */
export function maskUrls(text: string, url?: string, headers: Readonly<Record<string, string>> = {}): string {
  // A scheme is looked for where a word starts only: from every letter of a long word, each look would read the word
  // to its end (a 100 KB message took seconds).
  let masked = text.replace(
    /(?<![a-z\d+.-])[a-z][a-z\d+.-]*:\\?\/\\?\/[^\s"'<>,|]+/gi,
    (found) => redact(found.replaceAll("\\/", "/")),
  );
  const secrets = [...(url === undefined ? [] : urlSecrets(url)), ...headerSecrets(headers)];
  for (const secret of [...new Set(secrets)].sort((a, b) => b.length - a.length)) {
    // As a whole word: a user name "api" or a value "json" among other words is no secret there. A percent-escape
    // in either case (`%2f`, `%2F`): both decode the same.
    const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
      .replace(
        /%([\dA-Fa-f])([\dA-Fa-f])/g,
        (_, high: string, low: string) => `%${eitherCase(high)}${eitherCase(low)}`,
      );
    masked = masked.replace(new RegExp(`(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])`, "g"), "***");
  }
  return masked;
}

/**
 * Header values as a text may quote them: whole and JSON-quoted, each at least 4 characters, and each word of 8 or more
 * (the token of `Bearer <token>`).
 */
function headerSecrets(headers: Readonly<Record<string, string>>): string[] {
  const parts = Object.values(headers).flatMap((
    value,
  ) => [value, ...value.split(/[\t ]+/).filter((w) => w.length >= 8)])
    .filter((part) => part.length >= 4);
  return [...parts, ...parts.map((part) => JSON.stringify(part).slice(1, -1))];
}

/** A hexadecimal digit as a pattern that matches it in either case. */
function eitherCase(digit: string): string {
  return /\d/.test(digit) ? digit : `[${digit.toLowerCase()}${digit.toUpperCase()}]`;
}

/**
 * A URL's user name, password and query values, as written, decoded and quoted in JSON, and its credentials as a
 * `Basic` header carries them. Not a user name or password shorter than 4 characters, nor a query
 * value shorter than 8 (`json`, `true`): masked wherever they are, they would leave little readable, and what is in
 * a URL is masked with it.
 */
function urlSecrets(url: string): string[] {
  try {
    const { username, password, search } = new URL(url);
    const decode = (part: string) => {
      try {
        return decodeURIComponent(part.replaceAll("+", " "));
      } catch {
        return part;
      }
    };
    const credentials = [username, password].flatMap((part) => [part, decode(part)]).filter((part) => part.length >= 4);
    const values = search.slice(1).split("&").map((pair) => pair.slice(pair.indexOf("=") + 1))
      .flatMap((part) => [part, decode(part)]).filter((part) => part.length >= 8);
    const basic = username || password ? [utf8Base64(`${decode(username)}:${decode(password)}`)] : [];
    // As JSON quotes them too: a quote or a backslash in a password, escaped.
    const quoted = [...credentials, ...values].map((part) => JSON.stringify(part).slice(1, -1));
    return [...credentials, ...values, ...quoted, ...basic];
  } catch {
    return [];
  }
}
