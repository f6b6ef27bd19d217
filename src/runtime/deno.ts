/**
 * The {@link Host} for Deno. It asks `Deno.permissions.querySync` before any
 * access that needs a permission, so it never causes a permission prompt.
 *
 * @module
 */
import type { Host } from "./host.ts";

/** The part of the `Deno` namespace we use. */
export interface DenoNamespace {
  permissions: { querySync?(descriptor: { name: "env"; variable: string }): { state: string } };
  env: { get(name: string): string | undefined };
  stderr: { writeSync(bytes: Uint8Array): number };
  unrefTimer(id: number): void;
}

/**
 * Builds the Deno host.
 *
 * @param deno The `Deno` namespace.
 * @returns A host that degrades quietly when a permission is missing.
 * @example
 * ```ts ignore
 * import { denoHost } from "./deno.ts";
 * const host = denoHost(Deno);
 * host.env("HOME");
 * ```
 */
export function denoHost(deno: DenoNamespace): Host {
  const encoder = new TextEncoder();
  return {
    env(name) {
      try {
        if (deno.permissions.querySync?.({ name: "env", variable: name }).state !== "granted") return undefined;
        return deno.env.get(name);
      } catch {
        return undefined;
      }
    },
    writeStderr(text) {
      try {
        let bytes = encoder.encode(text);
        while (bytes.length > 0) bytes = bytes.subarray(deno.stderr.writeSync(bytes));
      } catch {
        // A closed stderr must not break the host program.
      }
    },
    unrefTimer(timer) {
      try {
        // Deno 2 returns Node-style Timeout objects from setTimeout; older versions returned numbers.
        if (typeof timer === "number") deno.unrefTimer(timer);
        else (timer as { unref?: () => void } | undefined)?.unref?.();
      } catch {
        // Already fired or cleared.
      }
    },
  };
}
