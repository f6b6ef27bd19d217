/**
 * Whether the process may talk to its terminal: a background job (`my-cli &`)
 * that writes to or reads from the terminal is stopped by the shell ("Stopped
 * (tty output)"), so the library asks its one question only in the
 * foreground.
 *
 * @module
 */
import type { HostFiles } from "./host.ts";

/** /proc/self/stat is one short line. */
const MAX_STAT_BYTES = 4096;

/**
 * Whether this process is in its terminal's foreground process group. Known
 * on Linux (`/proc/self/stat`: the process group equals the terminal's
 * foreground group) and on Windows (no job control); elsewhere, or without
 * permission to read `/proc`, it cannot be told without a native call, and
 * the answer is `false`, so nothing is asked.
 *
 * @param files File access, or `undefined`.
 * @param os The operating system, as `runtimeInfo().os` names it (`linux`, `darwin`, `win32`...).
 * @returns `true` only when it is known to be in the foreground.
 * @example
 * ```ts
 * import { isForegroundJob } from "./job_control.ts";
 * import { host, runtimeInfo } from "./mod.ts";
 * isForegroundJob(host().files, runtimeInfo().os);
 * ```
 */
export function isForegroundJob(files: HostFiles | undefined, os: string): boolean {
  if (os === "win32") return true;
  if (os !== "linux" || !files?.allowed("/proc/self/stat", "read")) return false;
  try {
    const stat = files.read("/proc/self/stat", MAX_STAT_BYTES) ?? "";
    // pid (comm) state ppid pgrp session tty_nr tpgid ...; comm may hold spaces and parentheses.
    const [, , pgrp, , , tpgid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    return Number.isInteger(pgrp) && pgrp > 0 && pgrp === tpgid;
  } catch {
    return false;
  }
}

/** The part of `node:process`'s standard input that shows whether a program reads it. */
export interface ProgramInput {
  readonly readableFlowing?: boolean | null | undefined;
  listenerCount?(event: string): number;
}

/**
 * Whether the program reads its standard input itself (a readline interface at work, paused or not, a shell of its
 * own, a `data` listener): a question would take its keys. One whose readline interface was closed does not (the
 * `data` listener of its key decoder stays until the next key, and is not counted), nor one that has not touched its
 * input.
 *
 * @param input `process.stdin`, where the runtime has it.
 * @returns `true` when the input is the program's.
 * @example
 * ```ts
 * import process from "node:process";
 * import { programReadsInput } from "./job_control.ts";
 * programReadsInput(process.stdin); // false in a program that has not read its input
 * ```
 */
export function programReadsInput(input: ProgramInput | undefined): boolean {
  if (input === undefined) return false;
  const listeners = (event: string) => input.listenerCount?.(event) ?? 0;
  if (input.readableFlowing === true || listeners("keypress") > 0 || listeners("readable") > 0) return true;
  // Node.js's readline (and Bun's and Deno's, its ports) leaves `emitKeypressEvents`'s decoder listening for `data`.
  const decoderLeft = Object.getOwnPropertySymbols(input).some((key) => key.description === "keypress-decoder");
  return listeners("data") > (decoderLeft ? 1 : 0);
}
