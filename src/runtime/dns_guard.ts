/**
 * A host name lookup for the Node.js client that never holds the process.
 * Node.js looks names up with the system's resolver (`getaddrinfo`) on a
 * thread of libuv's pool, which nothing can cancel, and which even
 * `process.exit()` waits for: behind a DNS server that never answers (a
 * firewall dropping its packets, a dead VPN resolver), one lookup held a
 * program 10 s past its exit budget (glibc's defaults: 5 s, twice), 20 s with
 * a Kubernetes search list. Deno and Bun end their programs regardless.
 *
 * So a name is looked up only once DNS is seen to answer: it is asked first,
 * for the A and AAAA records of each name the system would ask about, in its
 * order (the search list of /etc/resolv.conf, by `ndots`), through Node.js's
 * own DNS client (c-ares, on the event loop, cancelled when the delivery
 * aborts). A name DNS knows lets the system's lookup go on; one it says it
 * does not know moves to the next; one it does not answer about (where the
 * system would wait) fails the request, as a network error. Names in the
 * hosts file, and `localhost`, go to the system's lookup at once: it finds
 * them without DNS.
 *
 * @module
 */

import { quietly } from "./host.ts";
import type { ReadEnvironment } from "./proxy_settings.ts";

/** The built-in modules the lookup loads. */
export type DnsGuardModule = "node:dns" | "node:fs" | "node:os";

/** A lookup as `net.connect` and `http.request` take it. */
export type Lookup = (hostname: string, options: object, callback: (...result: unknown[]) => void) => void;

/** The part of `node:dns` we use. */
interface NodeDns {
  lookup: Lookup;
  Resolver: new (options: { timeout: number; tries: number }) => {
    resolve4(name: string, callback: Answer): void;
    resolve6(name: string, callback: Answer): void;
    cancel(): void;
  };
}

/** The part of `node:os` we use. */
interface NodeOs {
  hostname(): string;
}

/** The part of `node:fs` we use. */
interface NodeFs {
  readFileSync(path: string, encoding: "latin1"): string;
  statSync(path: string): { size: number; isFile(): boolean };
}

/** Where the system keeps names that need no DNS, and the most of it we read. */
const HOSTS_FILE = "/etc/hosts";
const MAX_HOSTS_BYTES = 16 << 20; // ad-blocking lists run to a few MB

/** How long DNS has to answer, at most: a delivery's abort (its deadline, the exit budget) cuts it sooner. */
const DNS_TIMEOUT_MS = 5_000;

/** What c-ares reports when no server answered: the system's lookup would wait as long, and could not be cut. */
const NO_ANSWER = new Set(["ETIMEOUT", "ECONNREFUSED", "ECANCELLED"]);

/**
 * Builds the lookup for one request.
 *
 * @param load Loads a built-in module (`process.getBuiltinModule`).
 * @param env Reads an environment variable (`LOCALDOMAIN`, `RES_OPTIONS`).
 * @param signal The delivery's signal: an abort cancels the question to DNS.
 * @returns A lookup for `net.connect` or `http.request` (their `lookup` option).
 * @example
 * ```ts ignore
 * import process from "node:process";
 * import { guardedLookup } from "./dns_guard.ts";
 * const lookup = guardedLookup((name) => process.getBuiltinModule(name), (name) => process.env[name], AbortSignal.timeout(2000));
 * ```
 */
export function guardedLookup(
  load: (name: DnsGuardModule) => unknown,
  env: ReadEnvironment,
  signal: AbortSignal,
): Lookup {
  const dns = load("node:dns") as NodeDns;
  return (hostname, options, callback) => {
    const name = hostname.toLowerCase().replace(/\.$/, "");
    if (name === "localhost" || name.endsWith(".localhost") || inHostsFile(load, name)) {
      return dns.lookup(hostname, options, callback);
    }
    const resolver = new dns.Resolver({ timeout: DNS_TIMEOUT_MS, tries: 1 });
    const onAbort = () => resolver.cancel();
    signal.addEventListener("abort", onAbort, { once: true });
    const ask = (query: (name: string, done: Answer) => void, candidate: string) =>
      new Promise<string | undefined>((resolve) => query.call(resolver, candidate, (error) => resolve(error?.code)));
    (async () => {
      // The names the system will ask about, in its order: the first that DNS knows ends its search, one it
      // answers about otherwise (no such name, a server failure) sends it to the next, and one DNS does not answer
      // about holds it.
      for (const candidate of searchOrder(load, env, hostname)) {
        const codes = await Promise.all([ask(resolver.resolve4, candidate), ask(resolver.resolve6, candidate)]);
        if (codes.some((code) => NO_ANSWER.has(code ?? ""))) return false;
        if (codes.includes(undefined)) return true;
      }
      return true; // no name known anywhere: the system's own lookup fails at once, or finds it otherwise
    })().then((answers) => {
      signal.removeEventListener("abort", onAbort);
      if (answers && !signal.aborted) return dns.lookup(hostname, options, callback);
      callback(Object.assign(new Error(`DNS did not answer for ${hostname}`), { code: "ETIMEOUT" }));
    });
  };
}

/** A c-ares query's callback. */
type Answer = (error: { code?: string } | null) => void;

/** Where the system's resolver takes its search list and `ndots` from, and the most of it we read. */
const RESOLV_CONF = "/etc/resolv.conf";
const MAX_RESOLV_CONF_BYTES = 65_536;

/**
 * The names the system's resolver asks DNS about for a host, in its order (glibc's `res_search`): with fewer dots
 * than `ndots` (1 by default), the search list's names first, then the name itself; else the name first. The search
 * list is `LOCALDOMAIN`'s, else resolv.conf's last `search` or `domain` line, else the domain of the machine's own
 * name; `RES_OPTIONS` may set `ndots` over resolv.conf's.
 */
function searchOrder(load: (name: DnsGuardModule) => unknown, env: ReadEnvironment, hostname: string): string[] {
  if (hostname.endsWith(".")) return [hostname.slice(0, -1)];
  let search: string[] | undefined;
  let ndots = 1;
  const options = (values: string[]) => {
    const dots = values.find((value) => value.startsWith("ndots:"));
    if (dots !== undefined) ndots = Math.min(15, Number.parseInt(dots.slice(6), 10) || 0);
  };
  const fs = load("node:fs") as NodeFs;
  for (const line of (quietly(() => boundedText(fs, RESOLV_CONF, MAX_RESOLV_CONF_BYTES)) ?? "").split("\n")) {
    const [keyword, ...values] = line.replace(/[#;].*/, "").trim().split(/\s+/);
    if (keyword === "search" || keyword === "domain") search = values;
    if (keyword === "options") options(values);
  }
  options(env("RES_OPTIONS")?.trim().split(/\s+/) ?? []);
  const local = env("LOCALDOMAIN")?.trim();
  if (local) search = local.split(/\s+/);
  // No search list configured: the domain of the machine's own name, as glibc takes it.
  search ??= [quietly(() => (load("node:os") as NodeOs).hostname().replace(/^[^.]*\.?/, "")) ?? ""].filter(Boolean);
  const expanded = search.slice(0, 6).filter((domain) => domain !== ".").map((domain) =>
    `${hostname}.${domain.replace(/\.$/, "")}`
  );
  return (hostname.split(".").length - 1) >= ndots ? [hostname, ...expanded] : [...expanded, hostname];
}

/** A small regular file's text, or `""` when it is missing, not a regular file, or larger than `maxBytes`. */
function boundedText(fs: NodeFs, path: string, maxBytes: number): string {
  const stat = fs.statSync(path);
  return stat.isFile() && stat.size <= maxBytes ? fs.readFileSync(path, "latin1") : "";
}

/**
 * Whether the hosts file names the host: the system finds it there, without DNS. Read without splitting it into
 * lines (an ad-blocking list runs to megabytes): each place the name stands as a word, after an address and
 * before any comment, on its line.
 */
function inHostsFile(load: (name: DnsGuardModule) => unknown, name: string): boolean {
  const text = quietly(() => boundedText(load("node:fs") as NodeFs, HOSTS_FILE, MAX_HOSTS_BYTES)) ?? "";
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  for (const match of text.matchAll(new RegExp(`(?<=[ \\t])${escaped}(?=[ \\t#\\r]|$)`, "gim"))) {
    const line = text.slice(text.lastIndexOf("\n", match.index) + 1, match.index);
    if (!line.includes("#") && /\S/.test(line)) return true;
  }
  return false;
}
