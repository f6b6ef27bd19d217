/**
 * This package's version, sent as `clientVer` unless the handler is told
 * otherwise. A test keeps it equal to `deno.json`'s `version`.
 *
 * @example
 * ```ts
 * import { CLIENT_VERSION } from "@nat/telemetry";
 * console.log(CLIENT_VERSION);
 * ```
 */
export const CLIENT_VERSION = "0.1.0";
