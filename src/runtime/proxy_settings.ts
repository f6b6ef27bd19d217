/**
 * Which proxy a request goes through, read from the environment as Deno,
 * Bun and curl read it: `https_proxy`/`HTTPS_PROXY` for https URLs,
 * `http_proxy`/`HTTP_PROXY` for http URLs, else `all_proxy`/`ALL_PROXY`, and
 * `no_proxy`/`NO_PROXY` for the hosts that are reached directly. Pure functions: the caller passes a
 * reader of the environment.
 *
 * Where the runtimes differ, the choice made here:
 * - The lowercase spelling wins over the uppercase one (Bun, curl, Node's own
 *   `EnvHttpProxyAgent`; Deno prefers uppercase). An empty value counts as unset.
 * - `HTTP_PROXY` (uppercase) is ignored when `REQUEST_METHOD` is set, even empty: in a CGI
 *   program it could come from a request's `Proxy:` header (Deno, curl).
 * - No host is exempt by default, not even `localhost` or `127.0.0.1`: with a
 *   proxy set and no `NO_PROXY`, Deno and Bun send loopback requests to the proxy too.
 * - `NO_PROXY` entries are separated by commas: `*` for every host; a name
 *   matches itself and its subdomains (`example.com`, `.example.com` and
 *   `*.example.com` all match `api.example.com`); an IP address matches
 *   exactly, a CIDR block (`10.0.0.0/8`) every address in it; an entry with a
 *   port (`example.com:8080`, `[::1]:8080`) only requests to that port.
 * - A proxy URL without a scheme is an `http:` one (`proxy:3128`); `https:`
 *   proxies are spoken to over TLS; any other scheme (`socks5:`) cannot be
 *   used, and a request that should go through it fails rather than bypass it.
 *
 * @module
 */

/** Reads one environment variable: `undefined` when unset. */
export type ReadEnvironment = (name: string) => string | undefined;

/** A proxy to send requests through. */
export interface ProxyServer {
  /** `http:` (plain TCP to the proxy) or `https:` (TLS to the proxy). */
  readonly protocol: "http:" | "https:";
  /** The proxy's host name or IP address, without brackets: what a socket connects to. */
  readonly hostname: string;
  /** The proxy's port (the scheme's default when the URL names none). */
  readonly port: number;
  /** The `Proxy-Authorization` header value, from credentials in the proxy URL. */
  readonly authorization: string | undefined;
}

/** A proxy URL read: the proxy, or why it cannot be used. */
export type ParsedProxy =
  | { readonly kind: "proxy"; readonly proxy: ProxyServer }
  | { readonly kind: "unusable"; readonly reason: string };

/**
 * Where a request goes: directly to its host (with the `NO_PROXY` entry that says so, if one does), or through the
 * proxy a variable sets, or nowhere (the proxy set cannot be used).
 */
export type ProxyRoute =
  | { readonly kind: "direct"; readonly exemptBy?: { readonly list: string; readonly entry: string } }
  | (ParsedProxy & { readonly setBy: string });

/**
 * Decides how a request to `target` travels, given the environment.
 *
 * @param target The URL requested.
 * @param env Reads an environment variable (at request time, so a change is honoured).
 * @returns `direct`, the proxy to use, or `unusable` with the reason when the proxy set cannot be parsed or spoken to.
 * @example
 * ```ts
 * import { proxyRoute } from "./proxy_settings.ts";
 * const env = (name: string) => ({ HTTPS_PROXY: "http://proxy.corp:3128", NO_PROXY: "localhost" })[name];
 * proxyRoute(new URL("https://telemetry.example/events"), env);
 * // { kind: "proxy", proxy: { protocol: "http:", hostname: "proxy.corp", port: 3128, authorization: undefined },
 * //   setBy: "HTTPS_PROXY" }
 * proxyRoute(new URL("http://telemetry.example/events"), env); // { kind: "direct" }: no HTTP_PROXY
 * proxyRoute(new URL("https://localhost/events"), env); // { kind: "direct", exemptBy: { list: "NO_PROXY", entry: "localhost" } }
 * ```
 */
export function proxyRoute(target: URL, env: ReadEnvironment): ProxyRoute {
  const variable = proxyVariable(target, env);
  if (variable === undefined) return { kind: "direct" };
  const list = firstSet(env, ["no_proxy", "NO_PROXY"]);
  const [entry] = list === undefined ? [] : noProxyEntries(target, env(list)!);
  if (list !== undefined && entry !== undefined) return { kind: "direct", exemptBy: { list, entry } };
  return { ...parseProxy(env(variable)!), setBy: variable };
}

/** Which variable names the proxy for `target` (`https_proxy`, `HTTPS_PROXY`, `ALL_PROXY`...), before `NO_PROXY`. */
function proxyVariable(target: URL, env: ReadEnvironment): string | undefined {
  const scheme = target.protocol === "https:"
    ? ["https_proxy", "HTTPS_PROXY"]
    : target.protocol === "http:"
    ? env("REQUEST_METHOD") !== undefined ? ["http_proxy"] : ["http_proxy", "HTTP_PROXY"]
    : undefined;
  return scheme && firstSet(env, [...scheme, "all_proxy", "ALL_PROXY"]);
}

/**
 * Why a request to an http URL goes without the proxy `names` set in a CGI program (`REQUEST_METHOD` set), where a
 * request's `Proxy:` header may have set it: the reason, or `undefined` when that is not why.
 *
 * @param target The URL requested.
 * @param env Reads an environment variable.
 * @param names The variables the runtime ignores there: `HTTP_PROXY` (the library), and `http_proxy` too (Deno).
 * @returns e.g. `HTTP_PROXY ignored in a CGI program (REQUEST_METHOD is set)`.
 * @example
 * ```ts
 * import { cgiIgnores } from "./proxy_settings.ts";
 * const env = (name: string) => ({ HTTP_PROXY: "http://p:1", REQUEST_METHOD: "GET" })[name];
 * cgiIgnores(new URL("http://api.example/"), env, ["HTTP_PROXY"]); // "HTTP_PROXY ignored in a CGI program (REQUEST_METHOD is set)"
 * cgiIgnores(new URL("https://api.example/"), env, ["HTTP_PROXY"]); // undefined
 * ```
 */
export function cgiIgnores(target: URL, env: ReadEnvironment, names: readonly string[]): string | undefined {
  const ignored = names.filter((name) => env(name));
  if (target.protocol !== "http:" || env("REQUEST_METHOD") === undefined || ignored.length === 0) return undefined;
  return `${ignored.join(" and ")} ignored in a CGI program (REQUEST_METHOD is set)`;
}

/**
 * Whether a URL has an `@` past its host: credentials with a `/`, `?` or `#` in them, not percent-encoded, which the
 * parser cut short there, taking a part of them for the host (looked up, connected to) and the rest for the path.
 *
 * @param url The URL as parsed.
 * @returns `true` where its path, query or fragment holds an `@`.
 * @example
 * ```ts
 * import { hasAtPastHost } from "./proxy_settings.ts";
 * hasAtPastHost(new URL("http://k3y/base64=@proxy.corp:3128")); // true: the host is "k3y"
 * hasAtPastHost(new URL("http://ada:k3y%2Fb@proxy.corp:3128")); // false
 * ```
 */
export function hasAtPastHost(url: URL): boolean {
  return `${url.pathname}${url.search}${url.hash}`.includes("@");
}

/**
 * Parses a proxy URL as found in `HTTP_PROXY` or `HTTPS_PROXY`.
 *
 * @param value The variable's value, e.g. `http://user:pass@proxy.corp:3128` or `proxy.corp:3128`.
 * @returns The proxy, or `unusable` with the reason (not a URL, a scheme other than http/https, an `@` past its host).
 * @example
 * ```ts
 * import { parseProxy } from "./proxy_settings.ts";
 * parseProxy("http://ada:s%40fe@proxy.corp:3128");
 * // { kind: "proxy", proxy: { protocol: "http:", hostname: "proxy.corp", port: 3128, authorization: "Basic YWRhOnNAZmU=" } }
 * parseProxy("socks5://127.0.0.1:1080"); // { kind: "unusable", reason: "socks5: proxies are not supported" }
 * ```
 */
export function parseProxy(value: string): ParsedProxy {
  const url = proxyUrl(value);
  if (!url) return { kind: "unusable", reason: "the proxy URL cannot be parsed" };
  const { protocol } = url;
  if (protocol !== "http:" && protocol !== "https:") {
    return { kind: "unusable", reason: `${protocol} proxies are not supported` };
  }
  if (url.hostname === "") return { kind: "unusable", reason: "the proxy URL names no host" };
  if (hasAtPastHost(url)) return { kind: "unusable", reason: PASSWORD_CUT_SHORT };
  const authorization = url.username || url.password
    ? `Basic ${utf8Base64(`${percentDecode(url.username)}:${percentDecode(url.password)}`)}`
    : undefined;
  const port = url.port ? Number(url.port) : protocol === "https:" ? 443 : 80;
  return { kind: "proxy", proxy: { protocol, hostname: unbracket(url.hostname), port, authorization } };
}

/**
 * Why a proxy URL with an `@` past its host is not used: the part of the password before a `/`, `?` or `#` would be
 * taken for the proxy's host, looked up and connected to.
 */
export const PASSWORD_CUT_SHORT =
  "an '@' past its host: a password with a '/', '?' or '#' in it, not percent-encoded " +
  "(%2F, %3F, %23), would make a part of it the proxy's host";

/**
 * A proxy variable's value as a URL, `http://` put before it where it names no scheme (`proxy.corp:3128`); `undefined`
 * where it cannot be parsed.
 *
 * @param value The variable's value.
 * @returns The URL.
 * @example
 * ```ts
 * import { proxyUrl } from "./proxy_settings.ts";
 * proxyUrl("proxy.corp:3128")?.href; // "http://proxy.corp:3128/"
 * ```
 */
export function proxyUrl(value: string): URL | undefined {
  const text = value.trim();
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    return undefined;
  }
}

/**
 * The entries of a `NO_PROXY` list that say to reach `target` directly: it is reached directly when there is one.
 *
 * @param target The URL requested.
 * @param noProxy The list: comma-separated host names, domains, IP addresses, CIDR blocks, each with an
 *   optional port, or `*`.
 * @returns The entries (trimmed) that match the URL's host, and its port where the entry names one.
 * @example
 * ```ts
 * import { noProxyEntries } from "./proxy_settings.ts";
 * noProxyEntries(new URL("https://api.example.com/"), "localhost,.example.com"); // [".example.com"]
 * noProxyEntries(new URL("http://127.0.0.1:8080/"), "127.0.0.1:9090"); // []: another port
 * noProxyEntries(new URL("http://10.1.2.3/"), "10.0.0.0/8, *"); // ["10.0.0.0/8", "*"]
 * ```
 */
export function noProxyEntries(target: URL, noProxy: string): string[] {
  const host = unbracket(target.hostname.toLowerCase()).replace(/\.$/, "");
  const address = ipAddress(host);
  const port = Number(target.port || (target.protocol === "https:" ? 443 : 80));
  return noProxy.split(",").map((item) => item.trim()).filter((item) => {
    const entry = parseEntry(item.toLowerCase());
    if (entry === undefined || (entry.port !== undefined && entry.port !== port)) return false;
    if (entry.kind === "all") return true;
    if (entry.kind === "domain") {
      return address === undefined && (host === entry.name || host.endsWith(`.${entry.name}`));
    }
    return address !== undefined && inBlock(address, entry.address, entry.prefix);
  });
}

/**
 * Whether an IP address lies in a `NO_PROXY` entry written as an IP address or CIDR block alone: no port, no
 * brackets (the entries Deno's fetch reads as addresses).
 *
 * @param host The address (IPv6 without brackets).
 * @param entry The entry, trimmed.
 * @returns `false` too when either is not an address.
 * @example
 * ```ts
 * import { addressInEntry } from "./proxy_settings.ts";
 * addressInEntry("10.1.2.3", "10.0.0.0/8"); // true
 * addressInEntry("::1", "[::1]"); // false: brackets
 * ```
 */
export function addressInEntry(host: string, entry: string): boolean {
  const address = ipAddress(host);
  const parsed = /^[\d.a-f:/]+$/i.test(entry) ? parseEntry(entry.toLowerCase()) : undefined;
  return address !== undefined && parsed?.kind === "ip" && parsed.port === undefined &&
    inBlock(address, parsed.address, parsed.prefix);
}

/** One `NO_PROXY` entry. */
type Entry =
  | { kind: "all"; port: number | undefined }
  | { kind: "domain"; name: string; port: number | undefined }
  | { kind: "ip"; address: number[]; prefix: number; port: number | undefined };

/** Parses one `NO_PROXY` entry (trimmed, lowercase); `undefined` for an empty or malformed one. */
function parseEntry(text: string): Entry | undefined {
  let host = text;
  let port: number | undefined;
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1];
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else if (text.indexOf(":") === text.lastIndexOf(":")) {
    // One colon at most: `host:port`. More than one is a bare IPv6 address (`::1`, `fd00::/8`).
    const withPort = /^(.*):(\d+)$/.exec(text);
    if (withPort) [host, port] = [withPort[1], Number(withPort[2])];
  }
  if (host === "*") return { kind: "all", port };
  const block = /^(.*)\/(\d{1,3})$/.exec(host);
  const address = ipAddress(block ? block[1] : host);
  if (address !== undefined) {
    const prefix = block ? Number(block[2]) : address.length * 8;
    return prefix <= address.length * 8 ? { kind: "ip", address, prefix, port } : undefined;
  }
  if (block) return undefined;
  const name = host.replace(/^\*?\./, "").replace(/\.$/, "");
  return name === "" || name.includes("*") ? undefined : { kind: "domain", name, port };
}

/** Whether `address` lies in the block `base/prefix` (both IPv4 or both IPv6). */
function inBlock(address: number[], base: number[], prefix: number): boolean {
  if (address.length !== base.length) return false;
  for (let bit = 0; bit < prefix; bit += 8) {
    const mask = prefix - bit >= 8 ? 0xff : (0xff << (8 - (prefix - bit))) & 0xff;
    if ((address[bit / 8] & mask) !== (base[bit / 8] & mask)) return false;
  }
  return true;
}

/** The bytes of an IPv4 (dotted quad) or IPv6 address, or `undefined` for anything else (a host name). */
function ipAddress(text: string): number[] | undefined {
  const quad = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad) {
    const bytes = quad.slice(1).map(Number);
    return bytes.every((byte) => byte <= 255) ? bytes : undefined;
  }
  if (!text.includes(":")) return undefined;
  let canonical: string;
  try {
    // The URL parser validates and canonicalizes (an IPv4 tail becomes two groups): `[::ffff:102:304]`.
    canonical = unbracket(new URL(`http://[${text}]/`).hostname);
  } catch {
    return undefined;
  }
  const [head, tail] = canonical.split("::");
  const groups = (part: string | undefined) => part ? part.split(":").map((group) => parseInt(group, 16)) : [];
  const front = groups(head);
  const back = groups(tail);
  const all = tail === undefined ? front : [...front, ...Array(8 - front.length - back.length).fill(0), ...back];
  return all.flatMap((group) => [group >> 8, group & 0xff]);
}

/** The name of the first variable set to something other than blanks. */
function firstSet(env: ReadEnvironment, names: string[]): string | undefined {
  return names.find((name) => env(name)?.trim());
}

/** A host without the brackets of an IPv6 literal. */
function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** Percent-decodes a URL's user name or password; a malformed escape is kept as it is. */
function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Base64 of a string's UTF-8 bytes, as a `Basic` authorization carries credentials.
 *
 * @param text The text.
 * @returns Its base64.
 * @example
 * ```ts
 * import { utf8Base64 } from "./proxy_settings.ts";
 * utf8Base64("ada:é"); // "YWRhOsOp"
 * ```
 */
export function utf8Base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
