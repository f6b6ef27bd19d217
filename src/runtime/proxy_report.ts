/**
 * Which way a program's requests to its endpoint travel, as `status` tells
 * it: directly or through which proxy, what said so, and what in the proxy
 * settings does not do what it says. Under Node.js the library's own client
 * follows `proxy_settings.ts`, and under Bun its fetch is given that route
 * (`runtimeFetch` in `node.ts`). Deno's fetch reads them its own way (`deno_proxy.ts`);
 * where that differs from the library's reading, the report says so.
 *
 * @module
 */

import { PROXY_VARIABLES } from "./clean_environment.ts";
import { hiddenBecause } from "./host.ts";
import type { RuntimeName } from "./info.ts";
import { denoGoesAround, denoProxyRoute } from "./deno_proxy.ts";
import { cgiIgnores, proxyRoute, type ReadEnvironment } from "./proxy_settings.ts";

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
    readonly problem?: string | undefined;
  }
  | {
    /** `direct`, or not at all (`unusable`: the proxy set cannot be spoken to), or `unknown` under Deno when the
     * program may not read a variable that its fetch honours. */
    readonly route: "direct" | "unusable" | "unknown";
    /** What decided it: the `NO_PROXY` entry, that no variable is set, why the proxy cannot be used. */
    readonly because: string;
    /** A setting that does not do what it says, and what happens instead. */
    readonly problem?: string | undefined;
  };

/**
 * Tells which way requests to `target` travel in this runtime.
 *
 * @param target The endpoint's URL.
 * @param env Reads an environment variable.
 * @param runtime The runtime whose fetch sends the requests (its reading of the variables differs).
 * @param hidden Whether the program may not read a variable (Deno's `--allow-env`, or a value Deno cannot read).
 *   @default {() => false}
 * @param notUnicode Whether a variable is set to what Deno cannot read (not valid Unicode). @default {() => false}
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
  notUnicode: (name: string) => boolean = () => false,
): ProxyReport {
  const ours = libraryRoute(target, env);
  if (runtime !== "deno") return ours;
  const around = denoGoesAround(target, env, notUnicode);
  if (around !== undefined) return { route: "unusable", because: around, problem: `nothing is sent: ${around}` };
  const unread = PROXY_VARIABLES.find(hidden);
  if (unread !== undefined) {
    return {
      route: "unknown",
      because: `the program may not read ${unread} (${
        hiddenBecause(notUnicode(unread), "--allow-env")
      }), which Deno's fetch honours`,
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
  return exemptBy ? { route: "direct", because: `${exemptBy.list} names the host: ${exemptBy.entry}` } : {
    route: "direct",
    because: cgiIgnores(target, env, ["HTTP_PROXY"]) ?? `no proxy variable is set for ${target.protocol} URLs`,
  };
}

/** The route Deno's fetch takes, as a report. */
function denoRoute(target: URL, env: ReadEnvironment): ProxyReport {
  const way = denoProxyRoute(target, env);
  return way.kind === "direct"
    ? { route: "direct", because: way.because }
    : through(way.url, way.variable, way.credentials);
}

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
