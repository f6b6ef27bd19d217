/**
 * The real `process`, with some members replaced: a Node.js host (`nodeHost`) built over it sees the replaced
 * members and the real rest.
 *
 * @module
 */
import process from "node:process";
import type { NodeProcess } from "../../src/runtime/node.ts";

/**
 * @param overrides The members to replace, by name.
 * @returns The process as the host sees it.
 */
export function processWith(overrides: Record<string, unknown>): NodeProcess {
  return new Proxy(process, {
    get: (target, key) => Object.hasOwn(overrides, key) ? overrides[key as string] : Reflect.get(target, key),
  }) as unknown as NodeProcess;
}
