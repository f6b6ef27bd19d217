/**
 * The files of a directory that a name pattern picks, each read: how the
 * spool's side records (health, senders' drops) are listed for `inspect`.
 *
 * @module
 */
import type { HostFiles } from "./runtime/mod.ts";

/**
 * Reads every file of a directory whose name matches, by the name's first group. Never throws.
 *
 * @param files File access.
 * @param dir The directory.
 * @param pattern The names to read, with one group (e.g. a hash).
 * @param read Reads one file: its group and its name; `undefined` leaves it out.
 * @returns What was read, in the directory's order; nothing when it cannot be listed.
 * @example
 * ```ts
 * import { readNamed } from "./named_files.ts";
 * import { host } from "./runtime/mod.ts";
 * const files = host().files;
 * if (files) readNamed(files, "/tmp/spool", /^health-([0-9a-f]{8})\.json$/, (hash) => hash);
 * ```
 */
export function readNamed<T>(
  files: HostFiles,
  dir: string,
  pattern: RegExp,
  read: (group: string, name: string) => T | undefined,
): T[] {
  let names: string[];
  try {
    names = files.list(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const group = pattern.exec(name)?.[1];
    const value = group === undefined ? undefined : read(group, name);
    return value === undefined ? [] : [value];
  });
}
