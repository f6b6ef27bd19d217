/**
 * The {@link Host} for Node.js and Bun, which share the `process` global.
 *
 * @module
 */
import type { Host } from "./host.ts";

/** The part of the `process` global we use. */
export interface NodeProcess {
  env: Record<string, string | undefined>;
  stderr: { write(text: string): unknown };
}

/**
 * Builds the Node.js / Bun host.
 *
 * @param proc The `process` global.
 * @returns A host over `process`.
 * @example
 * ```ts ignore
 * import process from "node:process";
 * import { nodeHost } from "./node.ts";
 * nodeHost(process).env("HOME");
 * ```
 */
export function nodeHost(proc: NodeProcess): Host {
  return {
    env(name) {
      try {
        return proc.env[name];
      } catch {
        return undefined;
      }
    },
    writeStderr(text) {
      try {
        proc.stderr.write(text);
      } catch {
        // A closed stderr must not break the host program.
      }
    },
    unrefTimer(timer) {
      (timer as { unref?: () => void } | undefined)?.unref?.();
    },
  };
}
