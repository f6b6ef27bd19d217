/**
 * The environment a sender process starts with: only the variables it needs,
 * never the program's runtime flags. A sender that inherited `NODE_OPTIONS`
 * (`--inspect-brk` from a debug session, `--require` of the program's own
 * code), `BUN_OPTIONS` or `DENO_V8_FLAGS` would not be the short-lived,
 * silent process it must be.
 *
 * @module
 */

/**
 * The variables a sender may inherit: where the system and the runtime keep
 * their files (Windows needs `SYSTEMROOT` for networking), the proxy and
 * certificate settings its requests must honour as the program's did, and the
 * user's telemetry decision, which it checks again when it starts.
 */
export const SENDER_VARIABLES: readonly string[] = [
  "PATH",
  "HOME",
  "USERPROFILE",
  "SYSTEMROOT",
  "WINDIR",
  "TEMP",
  "TMP",
  "TMPDIR",
  "LOCALAPPDATA",
  "XDG_CACHE_HOME",
  "DENO_DIR",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "NODE_EXTRA_CA_CERTS",
  "NODE_USE_SYSTEM_CA",
  "NODE_TLS_REJECT_UNAUTHORIZED",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "ALL_PROXY",
  "all_proxy",
  "NO_PROXY",
  "no_proxy",
  "NAT_TELEMETRY_ENABLED",
  "DO_NOT_TRACK",
  "NAT_TELEMETRY_CONSENT_FILE",
];

/**
 * Builds a sender's whole environment: the {@link SENDER_VARIABLES} this
 * process has, plus `set` (which wins).
 *
 * @param read Reads one of this process's variables (`undefined` when unset or not readable).
 * @param set Variables to set: the sender's configuration, runtime switches.
 * @returns The environment, complete: nothing else is inherited.
 * @example
 * ```ts
 * import { senderEnvironment } from "./clean_environment.ts";
 * const env = senderEnvironment((name) => ({ HOME: "/home/ada", NODE_OPTIONS: "--inspect-brk" })[name], { A: "1" });
 * // { HOME: "/home/ada", A: "1" }
 * ```
 */
export function senderEnvironment(
  read: (name: string) => string | undefined,
  set: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  // In a CGI program, HTTP_PROXY may come from a request's `Proxy:` header: the program ignores it, so does this.
  const cgi = read("REQUEST_METHOD") !== undefined;
  for (const name of SENDER_VARIABLES) {
    const value = read(name);
    if (value !== undefined && !(cgi && name === "HTTP_PROXY")) env[name] = value;
  }
  return { ...env, ...set };
}
