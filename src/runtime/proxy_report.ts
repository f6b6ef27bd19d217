/**
 * Which way a program's requests to its endpoint travel, as `status` tells
 * it: directly or through which proxy, what said so, and what in the proxy
 * settings does not work. Under Node.js the library's own client follows
 * `proxy_settings.ts`, and Bun's fetch reads the variables the same way, but
 * for `HTTP_PROXY` in a CGI program (`REQUEST_METHOD` set), which Bun honours.
 * Deno's fetch reads them itself and ignores `NO_PROXY` entries the others
 * honour: one with a port (`127.0.0.1:8080`), a bracketed IPv6 address
 * (`[::1]`), and `*` for an IP address (Deno 2.9.6, measured in
 * `tests/proxy_test.ts`); it also prefers the uppercase spellings, which
 * matters only where both are set and differ.
 *
 * @module
 */

import { PROXY_VARIABLES } from "./clean_environment.ts";
import type { RuntimeName } from "./info.ts";
import { noProxyEntries, noProxyVariable, parseProxy, proxyVariable, type ReadEnvironment } from "./proxy_settings.ts";

/** Which way requests travel, and why. */
export interface ProxyReport {
  /** `direct`, through a `proxy`, or not at all (`unusable`: the proxy set cannot be spoken to); `unknown` under
   * Deno when the program may not read a variable that its fetch honours. */
  readonly route: "direct" | "proxy" | "unusable" | "unknown";
  /** The proxy's URL, without its credentials, when the route is `proxy`. */
  readonly proxy?: string;
  /** What decided it: the variable, the `NO_PROXY` entry, or that no variable is set. */
  readonly because: string;
  /** A setting that does not do what it says, and what happens instead. */
  readonly problem?: string;
}

/**
 * Tells which way requests to `target` travel in this runtime.
 *
 * @param target The endpoint's URL.
 * @param env Reads an environment variable.
 * @param runtime The runtime whose fetch sends the requests (its reading of the variables differs).
 * @param hidden Whether the program may not read a variable (Deno's `--allow-env`). @default {() => false}
 * @returns The route, the proxy, the reason, and a problem where a setting does not work.
 * @example
 * ```ts
 * import { proxyReport } from "./proxy_report.ts";
 * const env = (name: string) => ({ HTTP_PROXY: "http://ada:pw@proxy.corp:3128", NO_PROXY: "127.0.0.1:8080" })[name];
 * proxyReport(new URL("http://127.0.0.1:8080/events"), env, "node");
 * // { route: "direct", because: "NO_PROXY names the host: 127.0.0.1:8080" }
 * proxyReport(new URL("http://127.0.0.1:8080/events"), env, "deno").proxy; // "http://proxy.corp:3128", and a problem
 * ```
 */
export function proxyReport(
  target: URL,
  env: ReadEnvironment,
  runtime: RuntimeName,
  hidden: (name: string) => boolean = () => false,
): ProxyReport {
  const unread = PROXY_VARIABLES.find(hidden);
  if (unread !== undefined && runtime === "deno") {
    return {
      route: "unknown",
      because: `the program may not read ${unread} (--allow-env), which Deno's fetch honours`,
    };
  }
  const variable = proxyVariable(
    target,
    runtime === "bun" ? (name) => name === "REQUEST_METHOD" ? undefined : env(name) : env,
  );
  if (variable === undefined) {
    return { route: "direct", because: `no proxy variable is set for ${target.protocol} URLs` };
  }
  const listName = noProxyVariable(env);
  const entries = listName === undefined ? [] : noProxyEntries(target, env(listName)!);
  const honoured = runtime === "deno" ? entries.filter((entry) => !denoIgnores(entry, target)) : entries;
  if (honoured.length > 0) return { route: "direct", because: `${listName} names the host: ${honoured[0]}` };
  const problem = entries.length === 0 ? undefined : `${listName} names the host (${entries.join(", ")}), ` +
    "but Deno's fetch ignores an entry with a port, a bracketed IPv6 address, and * for an IP address: " +
    "requests go through the proxy; name the host alone (127.0.0.1, not 127.0.0.1:8080)";
  const route = parseProxy(env(variable)!);
  if (route.kind === "proxy") {
    const { protocol, hostname, port, authorization } = route.proxy;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    const because = authorization === undefined ? variable : `${variable}, with credentials`;
    return { route: "proxy", proxy: `${protocol}//${host}:${port}`, because, ...(problem ? { problem } : {}) };
  }
  if (route.kind === "unusable" && runtime !== "deno") {
    const why = `${variable} cannot be used: ${route.reason}`;
    return { route: "unusable", because: why, problem: `${why}; requests are not sent while it is set` };
  }
  // Deno's fetch speaks socks5 and reads the variable itself: what it makes of it is Deno's.
  return { route: "proxy", because: `${variable}, as Deno's fetch reads it` };
}

/** Whether Deno's fetch ignores a `NO_PROXY` entry that matches `target` (see the module's comment). */
function denoIgnores(entry: string, target: URL): boolean {
  const ipHost = target.hostname.startsWith("[") || /^[\d.]+$/.test(target.hostname);
  return /^[^:]*:\d+$/.test(entry) || entry.startsWith("[") || (entry === "*" && ipHost);
}
