/**
 * Counting the reads of a property a runtime defines with a getter, which makes what it returns at the first read
 * (Deno's `globalThis.process`, Node.js's `process.stdin`): whether a run paid for making it.
 *
 * @module
 */

/**
 * Replaces a getter with one that counts its reads, and returns it unchanged.
 *
 * @param object What defines the property.
 * @param key The property.
 * @returns The count so far, read at any time.
 * @example
 * ```ts ignore
 * const stdin = countReads(process, "stdin");
 * stdin.count; // 0 until something reads process.stdin
 * ```
 */
export function countReads(object: object, key: string): { readonly count: number } {
  const { get } = Object.getOwnPropertyDescriptor(object, key) ?? {};
  if (!get) throw new TypeError(`${key} has no getter to watch`);
  const reads = { count: 0 };
  Object.defineProperty(object, key, {
    get() {
      reads.count++;
      return get.call(this);
    },
    configurable: true,
  });
  return reads;
}
