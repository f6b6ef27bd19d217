/**
 * Which way a program's requests to its endpoint travel, as `status` tells
 * it: directly or through which proxy, what said so, and what in the proxy
 * settings does not do what it says. Under Node.js the library's own client
 * follows `proxy_settings.ts`, and under Bun its fetch is given that route
 * (`runtimeFetch` in `node.ts`). Deno's fetch reads them its own way ({@link denoRoute}, after Deno's
 * `ext/fetch/proxy.rs`, checked against Deno 2.9.6 in `tests/proxy_test.ts`);
 * where that differs from the library's reading, the report says so.
 *
 * @module
 */

import { PROXY_VARIABLES } from "./clean_environment.ts";
import type { RuntimeName } from "./info.ts";
import { addressInEntry, proxyRoute, type ReadEnvironment } from "./proxy_settings.ts";

/** Which way requests travel, and why. */
export type ProxyReport =
  | {
    /** Through a proxy. */
    readonly route: "proxy";
    /** The proxy's URL, without its credentials. */
    readonly proxy: string;
    /** The variable that set it. */
    readonly because: string;
    /** A setting that does not do what it says, and what happens instead. */
    readonly problem?: string;
  }
  | {
    /** `direct`, or not at all (`unusable`: the proxy set cannot be spoken to), or `unknown` under Deno when the
     * program may not read a variable that its fetch honours. */
    readonly route: "direct" | "unusable" | "unknown";
    /** What decided it: the `NO_PROXY` entry, that no variable is set, why the proxy cannot be used. */
    readonly because: string;
    /** A setting that does not do what it says, and what happens instead. */
    readonly problem?: string;
  };

/**
 * Tells which way requests to `target` travel in this runtime.
 *
 * @param target The endpoint's URL.
 * @param env Reads an environment variable.
 * @param runtime The runtime whose fetch sends the requests (its reading of the variables differs).
 * @param hidden Whether the program may not read a variable (Deno's `--allow-env`). @default {() => false}
 * @returns The route, the proxy, the reason, and a problem where a setting does not do what it says.
 * @example
 * ```ts
 * import { proxyReport } from "./proxy_report.ts";
 * const env = (name: string) => ({ HTTP_PROXY: "http://ada:pw@proxy.corp:3128", NO_PROXY: "127.0.0.1:8080" })[name];
 * proxyReport(new URL("http://127.0.0.1:8080/events"), env, "node");
 * // { route: "direct", because: "NO_PROXY names the host: 127.0.0.1:8080" }
 * proxyReport(new URL("http://127.0.0.1:8080/events"), env, "deno");
 * // { route: "proxy", proxy: "http://proxy.corp:3128", because: "HTTP_PROXY, with credentials", problem: "Deno's..." }
 * ```
 */
export function proxyReport(
  target: URL,
  env: ReadEnvironment,
  runtime: RuntimeName,
  hidden: (name: string) => boolean = () => false,
): ProxyReport {
  const ours = libraryRoute(target, env);
  if (runtime !== "deno") return ours;
  const unread = PROXY_VARIABLES.find(hidden);
  if (unread !== undefined) {
    return {
      route: "unknown",
      because: `the program may not read ${unread} (--allow-env), which Deno's fetch honours`,
    };
  }
  const deno = denoRoute(target, env);
  if (where(deno) === where(ours)) return deno;
  const problem = `Deno's fetch sends these requests ${way(deno)} (${deno.because}), where Node.js and Bun send ` +
    `them ${way(ours)} (${ours.because}): Deno reads a variable's ` +
    "uppercase spelling first, ALL_PROXY before the scheme's own, skips a value it cannot parse, and matches a " +
    "NO_PROXY entry only as written: lowercase, without a port, brackets or *., * for names only";
  return { ...deno, problem };
}

/** The route by the library's reading of the variables (`proxyRoute`), which Node.js and Bun take. */
function libraryRoute(target: URL, env: ReadEnvironment): ProxyReport {
  const route = proxyRoute(target, env);
  if (route.kind === "proxy") {
    const { protocol, hostname, port, authorization } = route.proxy;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    return through(`${protocol}//${host}:${port}`, route.setBy, authorization !== undefined);
  }
  if (route.kind === "unusable") {
    const why = `${route.setBy} cannot be used: ${route.reason}`;
    return { route: "unusable", because: why, problem: `${why}; requests are not sent while it is set` };
  }
  const { exemptBy } = route;
  return exemptBy
    ? { route: "direct", because: `${exemptBy.list} names the host: ${exemptBy.entry}` }
    : { route: "direct", because: `no proxy variable is set for ${target.protocol} URLs` };
}

/**
 * The route Deno's fetch takes: `ALL_PROXY`, then the scheme's variable (`HTTP_PROXY` not in a CGI program), each
 * uppercase first, a value it cannot parse skipped; `NO_PROXY` if set (even empty), else `no_proxy`, its entries
 * compared as written (IP addresses and CIDR blocks with addresses; anything else with host names, case and port
 * included, a leading dot optional, `*` for every name).
 */
function denoRoute(target: URL, env: ReadEnvironment): ProxyReport {
  const pairs = [["ALL_PROXY", "all_proxy"]];
  if (target.protocol === "https:") pairs.push(["HTTPS_PROXY", "https_proxy"]);
  if (target.protocol === "http:" && env("REQUEST_METHOD") === undefined) pairs.push(["HTTP_PROXY", "http_proxy"]);
  const [variable, proxy] = pairs.flat().map((name) => [name, denoProxy(env(name))] as const)
    .find(([, read]) => read !== undefined) ?? [];
  if (variable === undefined || proxy === undefined) {
    const because = pairs.flat().some((name) => env(name))
      ? "no proxy variable Deno's fetch can read is set"
      : `no proxy variable is set for ${target.protocol} URLs`;
    return { route: "direct", because };
  }
  const list = env("NO_PROXY") !== undefined ? "NO_PROXY" : "no_proxy";
  const host = target.hostname.replace(/^\[(.*)\]$/, "$1");
  const entry = (env(list) || undefined)?.split(",").map((item) => item.replace(RUST_TRIM, ""))
    .find((item) => denoExempts(host, item));
  if (entry !== undefined) return { route: "direct", because: `${list} names the host: ${entry}` };
  return through(proxy.url, variable, proxy.credentials);
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
  // Credentials end at the first @ (they need a colon), the host starts after the last.
  const [, userinfo, host, port = ""] =
    /^(?:([\w.~!$&'()*+,;=:%-]*)@(?:[\w.~!$&'()*+,;=:%-]*@)*)?([a-z\d.-]+|\[[\da-f:.]+\])(?::(\+?\d*))?$/i
      .exec(authority) ?? [];
  if (!["http", "https", "socks5", "socks5h"].includes(scheme) || host === undefined) return undefined;
  if (userinfo !== undefined && !userinfo.includes(":")) return undefined;
  try {
    // Shown as the URL parser writes a host (`0x7f000001` is 127.0.0.1); a port out of range is the default one.
    const { hostname } = new URL(`http://${host}`);
    const number = /^\+?\d+$/.test(port) && Number(port) <= 65_535 ? Number(port) : undefined;
    const shown = `${hostname}:${number ?? ({ http: 80, https: 443 }[scheme] ?? 1080)}`;
    return { url: `${scheme}://${shown}`, credentials: userinfo !== undefined };
  } catch {
    return undefined;
  }
}

/** What Rust's `str::trim` takes off: Unicode's White_Space (JavaScript's `trim` also takes U+FEFF, not U+0085). */
const WHITE_SPACE = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const RUST_TRIM = new RegExp(`^${WHITE_SPACE}+|${WHITE_SPACE}+$`, "g");

/** Where a report says requests go: the proxy's URL, or the route. */
function where(report: ProxyReport): string {
  return report.route === "proxy" ? report.proxy : report.route;
}

/** Which way a report says requests go, in words. */
function way(report: ProxyReport): string {
  return report.route === "proxy" ? `through ${report.proxy}` : report.route === "direct" ? "directly" : "nowhere";
}

/** A report of requests through the proxy at `url` (without credentials), set by `variable`. */
function through(url: string, variable: string, credentials: boolean): ProxyReport {
  return { route: "proxy", proxy: url, because: credentials ? `${variable}, with credentials` : variable };
}
