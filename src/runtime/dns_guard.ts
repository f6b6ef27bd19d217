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
 * for the name's A and AAAA records, through Node.js's own DNS client
 * (c-ares, on the event loop, cancelled when the delivery aborts). Any answer,
 * "no such name" included (the system may know the name otherwise, through a
 * search list say), lets the system's lookup go on; no answer fails the
 * request, as a network error. Names in the hosts file, and `localhost`, go
 * to the system's lookup at once: it finds them without DNS.
 *
 * @module
 */

/** The built-in modules the lookup loads. */
export type DnsGuardModule = "node:dns" | "node:fs";

/** A lookup as `net.connect` and `http.request` take it. */
export type Lookup = (hostname: string, options: object, callback: (...result: unknown[]) => void) => void;

/** The part of `node:dns` we use. */
interface NodeDns {
  lookup: Lookup;
  Resolver: new (options: { timeout: number; tries: number }) => {
    resolve4(name: string, callback: (error: { code?: string } | null) => void): void;
    resolve6(name: string, callback: (error: { code?: string } | null) => void): void;
    cancel(): void;
  };
}

/** The part of `node:fs` we use. */
interface NodeFs {
  readFileSync(path: string, encoding: "latin1"): string;
  statSync(path: string): { size: number; isFile(): boolean };
}

/** Where the system keeps names that need no DNS, and the most of it we read. */
const HOSTS_FILE = "/etc/hosts";
const MAX_HOSTS_BYTES = 1 << 20;

/** How long DNS has to answer, at most: a delivery's abort (its deadline, the exit budget) cuts it sooner. */
const DNS_TIMEOUT_MS = 5_000;

/** What c-ares reports when no server answered: the system's lookup would wait as long, and could not be cut. */
const NO_ANSWER = new Set(["ETIMEOUT", "ECONNREFUSED", "ECANCELLED"]);

/**
 * Builds the lookup for one request.
 *
 * @param load Loads a built-in module (`process.getBuiltinModule`).
 * @param signal The delivery's signal: an abort cancels the question to DNS.
 * @returns A lookup for `net.connect` or `http.request` (their `lookup` option).
 * @example
 * ```ts ignore
 * import process from "node:process";
 * import { guardedLookup } from "./dns_guard.ts";
 * const lookup = guardedLookup((name) => process.getBuiltinModule(name), AbortSignal.timeout(2000));
 * ```
 */
export function guardedLookup(load: (name: DnsGuardModule) => unknown, signal: AbortSignal): Lookup {
  const dns = load("node:dns") as NodeDns;
  return (hostname, options, callback) => {
    const name = hostname.toLowerCase().replace(/\.$/, "");
    if (name === "localhost" || name.endsWith(".localhost") || inHostsFile(load, name)) {
      return dns.lookup(hostname, options, callback);
    }
    const resolver = new dns.Resolver({ timeout: DNS_TIMEOUT_MS, tries: 1 });
    const onAbort = () => resolver.cancel();
    signal.addEventListener("abort", onAbort, { once: true });
    let waiting = 2;
    let silent = false;
    const answered = (error: { code?: string } | null) => {
      silent ||= error !== null && NO_ANSWER.has(error.code ?? "");
      if (--waiting > 0) return;
      signal.removeEventListener("abort", onAbort);
      if (!silent && !signal.aborted) return dns.lookup(hostname, options, callback);
      const failure = Object.assign(new Error(`DNS did not answer for ${hostname}`), { code: "ETIMEOUT" });
      callback(failure);
    };
    resolver.resolve4(name, answered);
    resolver.resolve6(name, answered);
  };
}

/** Whether the hosts file names the host: the system finds it there, without DNS. */
function inHostsFile(load: (name: DnsGuardModule) => unknown, name: string): boolean {
  try {
    const fs = load("node:fs") as NodeFs;
    const stat = fs.statSync(HOSTS_FILE);
    if (!stat.isFile() || stat.size > MAX_HOSTS_BYTES) return false;
    return fs.readFileSync(HOSTS_FILE, "latin1").split("\n").some((line) =>
      line.replace(/#.*/, "").trim().split(/\s+/).slice(1).some((alias) => alias.toLowerCase() === name)
    );
  } catch {
    return false;
  }
}
