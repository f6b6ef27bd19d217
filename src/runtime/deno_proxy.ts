/**
 * How Deno's fetch reads the proxy variables, which it does its own way (after Deno's `ext/fetch/proxy.rs`, checked
 * against Deno 2.9.6 in `tests/proxy_test.ts`): for `status`, which tells where that differs from the library's
 * reading, and for the deliveries, which must not follow a redirect that would take the proxy's credentials to
 * another host.
 *
 * @module
 */

import { PROXY_SETTINGS } from "./clean_environment.ts";
import {
  addressInEntry,
  cgiIgnores,
  hasAtPastHost,
  PASSWORD_CUT_SHORT,
  proxyRoute,
  proxyUrl,
  type ReadEnvironment,
} from "./proxy_settings.ts";

/**
 * Whether Deno's fetch sends the proxy's credentials to `target`'s host itself, not only to the proxy: an https
 * request through an `http:` proxy whose URL has credentials, which Deno 2.9.6 also sends inside the tunnel
 * (measured in `tests/proxy_test.ts`; not through an `https:` or socks5 proxy). A redirect must not take them to
 * another host.
 *
 * @param target The URL requested.
 * @param env Reads an environment variable.
 * @returns Whether the request carries the proxy's credentials to the target.
 * @example
 * ```ts
 * import { denoSendsProxyCredentials } from "./deno_proxy.ts";
 * const env = (name: string) => ({ HTTPS_PROXY: "http://ada:pw@proxy.corp:3128" })[name];
 * denoSendsProxyCredentials(new URL("https://telemetry.example/events"), env); // true
 * denoSendsProxyCredentials(new URL("http://telemetry.example/events"), env); // false: no HTTP_PROXY
 * denoSendsProxyCredentials(new URL("https://telemetry.example/events"), () => "https://ada:pw@proxy.corp"); // false
 * ```
 */
export function denoSendsProxyCredentials(target: URL, env: ReadEnvironment): boolean {
  const way = denoProxyRoute(target, env);
  return target.protocol === "https:" && way.kind === "proxy" && way.credentials && way.url.startsWith("http:");
}

/**
 * Why Deno's fetch would send a request around the proxy the variables name: it skips a proxy variable whose value it
 * cannot read (not valid Unicode) or parse (one with a blank after it, as a `.env` file may leave, say), and goes
 * directly, where Node.js and Bun trim the value and send through the proxy, or send nothing; or would send it to a
 * part of the proxy's password (an `@` past its host), where Node.js and Bun send nothing. Such a request is not to
 * be sent: the one reason the Deno host's fetch refuses it with, and `status` gives.
 *
 * @param target The URL requested.
 * @param env Reads an environment variable.
 * @param notUnicode Whether a variable is set to what Deno cannot read. @default {() => false}
 * @returns The reason, or `undefined` where Deno's fetch takes a proxy, or goes directly as the library's reading does.
 * @example
 * ```ts
 * import { denoGoesAround } from "./deno_proxy.ts";
 * const env = (name: string) => ({ HTTPS_PROXY: "http://proxy.corp:3128 " })[name];
 * denoGoesAround(new URL("https://telemetry.example/events"), env);
 * // "Deno's fetch cannot parse HTTPS_PROXY, which it skips: it would go around the proxy named there"
 * ```
 */
export function denoGoesAround(
  target: URL,
  env: ReadEnvironment,
  notUnicode: (name: string) => boolean = () => false,
): string | undefined {
  const unreadable = PROXY_SETTINGS.find(notUnicode);
  if (unreadable !== undefined) {
    return `${unreadable} is not valid Unicode, which Deno's fetch skips: it would go around the proxy named there`;
  }
  const deno = denoProxyRoute(target, env);
  const url = deno.kind === "proxy" ? proxyUrl(env(deno.variable) ?? "") : undefined;
  if (deno.kind === "proxy" && url && hasAtPastHost(url)) return `${deno.variable} has ${PASSWORD_CUT_SHORT}`;
  if (deno.kind !== "direct" || deno.skipped === undefined || proxyRoute(target, env).kind === "direct") {
    return undefined;
  }
  return `Deno's fetch cannot parse ${deno.skipped}, which it skips: it would go around the proxy named there`;
}

/**
 * The route Deno's fetch takes for a request: `ALL_PROXY`, then the scheme's variable (`HTTP_PROXY` not in a CGI program), each
 * uppercase first, a value it cannot parse skipped; `NO_PROXY` if set (even empty), else `no_proxy`, its entries
 * compared as written (IP addresses and CIDR blocks with addresses; anything else with host names, case and port
 * included, a leading dot optional, `*` for every name).
 *
 * @param target The URL requested.
 * @param env Reads an environment variable.
 * @returns `direct` and why (and the first variable it skipped, if any), or the proxy: the variable that names it,
 *   its URL without credentials, and whether it has credentials.
 * @example
 * ```ts
 * import { denoProxyRoute } from "./deno_proxy.ts";
 * const env = (name: string) => ({ HTTPS_PROXY: "http://ada:pw@proxy.corp:3128", https_proxy: "other:1" })[name];
 * denoProxyRoute(new URL("https://telemetry.example/events"), env);
 * // { kind: "proxy", variable: "HTTPS_PROXY", url: "http://proxy.corp:3128", credentials: true }
 * ```
 */
export function denoProxyRoute(
  target: URL,
  env: ReadEnvironment,
):
  | { kind: "direct"; because: string; skipped?: string }
  | { kind: "proxy"; variable: string; url: string; credentials: boolean } {
  const pairs = [["ALL_PROXY", "all_proxy"]];
  if (target.protocol === "https:") pairs.push(["HTTPS_PROXY", "https_proxy"]);
  if (target.protocol === "http:" && env("REQUEST_METHOD") === undefined) pairs.push(["HTTP_PROXY", "http_proxy"]);
  const [variable, proxy] = pairs.flat().map((name) => [name, denoProxy(env(name))] as const)
    .find(([, read]) => read !== undefined) ?? [];
  if (variable === undefined || proxy === undefined) {
    const skipped = pairs.flat().find((name) => env(name));
    if (skipped !== undefined) {
      return { kind: "direct", because: "no proxy variable Deno's fetch can read is set", skipped };
    }
    const because = cgiIgnores(target, env, ["HTTP_PROXY", "http_proxy"]) ??
      `no proxy variable is set for ${target.protocol} URLs`;
    return { kind: "direct", because };
  }
  const list = env("NO_PROXY") !== undefined ? "NO_PROXY" : "no_proxy";
  const host = target.hostname.replace(/^\[(.*)\]$/, "$1");
  const entry = (env(list) || undefined)?.split(",").map((item) => item.replace(RUST_TRIM, ""))
    .find((item) => denoExempts(host, item));
  if (entry !== undefined) return { kind: "direct", because: `${list} names the host: ${entry}` };
  return { kind: "proxy", variable, ...proxy };
}

/** Whether Deno's fetch reaches `host` (a URL's host name: lowercase, IPv6 without brackets) directly for an entry. */
function denoExempts(host: string, entry: string): boolean {
  // Deno reads no address with a leading zero (`127.000.0.1`), but a block may have them (`127.000.0.0/08`), not a
  // prefix of three digits (`/008`): what it does not read is a name, which an address never matches.
  if (/^[\d.]+$|:/.test(host)) {
    return (entry.includes("/") ? !/\/0\d\d/.test(entry) : !/(?:^|\.)0\d/.test(entry)) && addressInEntry(host, entry);
  }
  return entry === "*" || `.${host}`.endsWith(entry.startsWith(".") ? entry : `.${entry}`);
}

/** A proxy variable's value as Deno's fetch parses it (an http, https or socks5 URL, or host:port), or `undefined`. */
function denoProxy(value: string | undefined): { url: string; credentials: boolean } | undefined {
  // A URI of at most 65534 bytes, without blanks or control characters.
  if (value === undefined || value.length > 65_534 || [...value].some((c) => c <= " " || c === "\x7f")) {
    return undefined;
  }
  const written = /^([a-z][a-z\d+.-]*):\/\/(.*)$/is.exec(value);
  // http and https in any case, socks5 and socks5h as written; no scheme is http.
  const scheme = (written?.[1] ?? "http").replace(/^https?$/i, (name) => name.toLowerCase());
  const authority = written ? written[2].split(/[/?#]/)[0] : value;
  // Credentials end at the first @ (they need a colon), the host starts after the last; brackets in them in pairs.
  const [, userinfo, host, port = ""] = PROXY_AUTHORITY.exec(authority) ?? [];
  if (!["http", "https", "socks5", "socks5h"].includes(scheme) || host === undefined) return undefined;
  if (userinfo !== undefined && !userinfo.includes(":")) return undefined;
  // A port out of range is the default one.
  const number = /^\+?\d+$/.test(port) && Number(port) <= 65_535 ? Number(port) : undefined;
  const shown = `${shownHost(host)}:${number ?? ({ http: 80, https: 443 }[scheme] ?? 1080)}`;
  return { url: `${scheme}://${shown}`, credentials: userinfo !== undefined };
}

/**
 * A proxy's host as the URL parser writes it (`0x7f000001` is 127.0.0.1), or as written, lowercase, where it refuses
 * one Deno's fetch still connects to (`xn--a`, `999.1.1.1`: it looks the name up, and the requests go nowhere).
 */
function shownHost(host: string): string {
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return host.toLowerCase();
  }
}

/** Credentials as Deno's fetch reads them in a proxy URL: a URI's user information, with `[...]` groups. */
const USERINFO = "(?:[\\w.~!$&'()*+,;=:%-]|\\[[\\w.~!$&'()*+,;=:%-]*\\])*";

/**
 * A proxy URL's authority: credentials (and any more `...@`), a host name (a URI's unreserved characters and
 * sub-delimiters, `_` as a Compose service's name has it; not `%`) or bracketed IPv6 address, a port.
 */
const PROXY_AUTHORITY = new RegExp(
  `^(?:(${USERINFO})@(?:${USERINFO}@)*)?([\\w.~!$&'()*+,;=-]+|\\[[\\da-f:.]+\\])(?::(\\+?\\d*))?$`,
  "i",
);

/** What Rust's `str::trim` takes off: Unicode's White_Space (JavaScript's `trim` also takes U+FEFF, not U+0085). */
const WHITE_SPACE = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const RUST_TRIM = new RegExp(`^${WHITE_SPACE}+|${WHITE_SPACE}+$`, "g");
