/**
 * The environment a sender process starts with: only the variables it needs,
 * never the program's runtime flags. A sender that inherited `NODE_OPTIONS`
 * (`--inspect-brk` from a debug session, `--require` of the program's own
 * code), `BUN_OPTIONS` or `DENO_V8_FLAGS` would not be the short-lived,
 * silent process it must be.
 *
 * @module
 */
import { below } from "./guarded_files.ts";

/**
 * The variables a sender inherits that name a file or directory (`SSL_CERT_DIR` a list of them): it runs in the
 * spool directory, so a relative one is made absolute against the program's working directory.
 */
const PATH_VARIABLES: readonly string[] = [
  "HOME",
  "USERPROFILE",
  "TEMP",
  "TMP",
  "TMPDIR",
  "LOCALAPPDATA",
  "XDG_CACHE_HOME",
  "DENO_DIR",
  "DENO_CERT",
  "NODE_EXTRA_CA_CERTS",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NAT_TELEMETRY_CONSENT_FILE",
];

/** The variables that name a proxy, in both spellings (not those that exempt hosts from one). */
export const PROXY_SETTINGS: readonly string[] = [
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "ALL_PROXY",
  "all_proxy",
];

/**
 * The proxy settings, in both spellings, and `REQUEST_METHOD` (set, a CGI program's, Deno's fetch and the Node.js
 * client ignore `HTTP_PROXY`, and Deno `http_proxy` too): a sender's requests must go the way the program's go.
 */
export const PROXY_VARIABLES: readonly string[] = [
  ...PROXY_SETTINGS,
  "NO_PROXY",
  "no_proxy",
  "REQUEST_METHOD",
];

/**
 * The variables a sender may inherit: where the system and the runtime keep
 * their files (Windows needs `SYSTEMROOT` for networking), the proxy and
 * certificate settings its requests must honour as the program's did, and the
 * user's telemetry decision, which it checks again when it starts.
 */
export const SENDER_VARIABLES: readonly string[] = [
  "PATH",
  "SYSTEMROOT",
  "WINDIR",
  "DENO_TLS_CA_STORE",
  "NODE_USE_SYSTEM_CA",
  "NODE_TLS_REJECT_UNAUTHORIZED",
  ...PROXY_VARIABLES,
  "NAT_TELEMETRY_ENABLED",
  "DO_NOT_TRACK",
  ...PATH_VARIABLES,
];

/**
 * Builds a sender's whole environment: the {@link SENDER_VARIABLES} this
 * process has, plus `set` (which wins). Relative paths in them (a CA file
 * named from the project's directory, say) are made absolute, since the
 * sender does not run where the program does.
 *
 * @param read Reads one of this process's variables (`undefined` when unset or not readable).
 * @param set Variables to set: the sender's configuration, runtime switches.
 * @param cwd The program's working directory (`undefined` when it cannot be told: paths are then left as they are).
 * @returns The environment, complete: nothing else is inherited.
 * @example
 * ```ts
 * import { senderEnvironment } from "./clean_environment.ts";
 * const parent: Record<string, string> = { HOME: "/home/ada", NODE_EXTRA_CA_CERTS: "tls/ca.pem", NODE_OPTIONS: "-r x" };
 * const env = senderEnvironment((name) => parent[name], { A: "1" }, "/work");
 * // { HOME: "/home/ada", NODE_EXTRA_CA_CERTS: "/work/tls/ca.pem", A: "1" }
 * ```
 */
export function senderEnvironment(
  read: (name: string) => string | undefined,
  set: Readonly<Record<string, string>>,
  cwd: string | undefined,
): Record<string, string> {
  const env: Record<string, string> = {};
  const absolute = (path: string) => absolutePath(path, cwd);
  // In a CGI program, HTTP_PROXY may come from a request's `Proxy:` header: the program ignores it, and so does its
  // sender, whatever its runtime.
  const cgi = read("REQUEST_METHOD") !== undefined;
  for (const name of SENDER_VARIABLES) {
    const value = read(name);
    if (value === undefined || (cgi && name === "HTTP_PROXY")) continue;
    if (!PATH_VARIABLES.includes(name)) env[name] = value;
    else if (name !== "SSL_CERT_DIR") env[name] = absolute(value);
    else {
      // A list, separated as PATH is (`;` on Windows, where a drive letter has a colon: a cwd on a drive or a share).
      const separator = WINDOWS_DIRECTORY.test(cwd ?? "") ? ";" : ":";
      env[name] = value.split(separator).map(absolute).join(separator);
    }
  }
  // What is set wins, its paths made absolute as well (a consent file named bare, `telemetry.toml`).
  for (const [name, value] of Object.entries(set)) env[name] = PATH_VARIABLES.includes(name) ? absolute(value) : value;
  return env;
}

/**
 * A path made absolute against a working directory, unless it is absolute already (or empty, or the directory is
 * not known).
 *
 * @param path A path.
 * @param cwd The directory a relative one is relative to.
 * @returns The path, absolute where it can be.
 * @example
 * ```ts
 * import { absolutePath } from "./clean_environment.ts";
 * absolutePath("tls/ca.pem", "/work"); // "/work/tls/ca.pem"
 * absolutePath("/etc/ca.pem", "/work"); // "/etc/ca.pem"
 * ```
 */
export function absolutePath(path: string, cwd: string | undefined): string {
  if (cwd === undefined || path === "") return path;
  // On Windows (a directory on a drive or a share), absolute or not ours to place: from the root, a share (`\\host`),
  // or a drive (`C:\`; `C:ca.pem` is relative to that drive's own directory, which only Windows knows). Elsewhere
  // `C:ca.pem` and `\ca.pem` are names like any other, relative to the working directory.
  const absolute = WINDOWS_DIRECTORY.test(cwd) ? /^(?:[A-Za-z]:|[\\/])/.test(path) : path.startsWith("/");
  return absolute ? path : below(cwd, path);
}

/** A Windows directory's path: on a drive (`C:`) or a share (`\\host`). */
const WINDOWS_DIRECTORY = /^(?:[A-Za-z]:|\\\\)/;
