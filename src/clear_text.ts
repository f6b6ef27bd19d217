/**
 * What a request would carry unencrypted off this machine: an `http:` endpoint on another host, with credentials or a
 * query in its URL (which the package masks as a key wherever it prints one) or headers of the program's (an API
 * key). Not refused (a collector on a private network may be reached so), but told, in the debug trail and by
 * `status`, so that a mistyped scheme is found before a key travels in clear.
 *
 * @module
 */
import type { Sink } from "./options.ts";

/**
 * Whether an address is a loopback one: `localhost` (with or without its final dot), `127.0.0.0/8`, `::1`, or
 * `127.0.0.0/8` mapped to IPv6 (`::ffff:127.0.0.1`, which a URL writes `::ffff:7f00:1`).
 *
 * @param hostname The address.
 * @returns `true` for loopback.
 * @example
 * ```ts
 * import { isLoopback } from "./clear_text.ts";
 * isLoopback("127.0.0.1"); // true
 * isLoopback("0.0.0.0"); // false
 * ```
 */
export function isLoopback(hostname: string): boolean {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase().replace(/^localhost\.$/, "localhost");
  return bare === "localhost" || bare === "::1" || /^(?:::ffff:)?127(\.\d{1,3}){3}$/.test(bare) ||
    /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(bare);
}

/**
 * What of a request to an endpoint would travel unencrypted to another machine, said for a person to read.
 *
 * @param sink Where events go (only an HTTP endpoint carries anything).
 * @param headers The request headers the program adds.
 * @returns E.g. `the headers x-api-key go unencrypted (http:) to collector.example`, or `undefined` when nothing
 *   secret does (an `https:` endpoint, a loopback one, no credentials and no headers).
 * @example
 * ```ts
 * import { clearTextSecrets } from "./clear_text.ts";
 * clearTextSecrets({ kind: "http", url: "http://ada:secret@192.0.2.2/events" }, {}); // "the URL's credentials go unencrypted (http:) to 192.0.2.2"
 * clearTextSecrets({ kind: "http", url: "http://192.0.2.2/events?key=k" }, {}); // "the URL's query parameters go unencrypted (http:) to 192.0.2.2"
 * clearTextSecrets({ kind: "http", url: "https://192.0.2.2/events" }, { "x-api-key": "k" }); // undefined
 * ```
 */
export function clearTextSecrets(sink: Sink, headers: Readonly<Record<string, string>>): string | undefined {
  if (sink.kind !== "http") return undefined;
  let url: URL;
  try {
    url = new URL(sink.url);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" || isLoopback(url.hostname)) return undefined;
  const inUrl = [...(url.username || url.password ? ["credentials"] : []), ...(url.search ? ["query parameters"] : [])];
  const secrets = [
    ...(inUrl.length > 0 ? [`the URL's ${inUrl.join(" and ")}`] : []),
    ...(Object.keys(headers).length > 0 ? [`the headers ${Object.keys(headers).join(", ")}`] : []),
  ];
  return secrets.length === 0 ? undefined : `${secrets.join(" and ")} go unencrypted (http:) to ${url.hostname}`;
}
