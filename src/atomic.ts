/**
 * Atomic file replacement: write a temporary file beside the target, then
 * rename it over the target, so a reader sees the old file or the new one,
 * never half of one. Temporary files are named `t-<epoch ms>-<random>.tmp`,
 * so a cleaner can recognise one a crashed writer left behind.
 *
 * @module
 */
import type { HostFiles } from "./runtime/mod.ts";

/** Matches the temporary files of {@link writeAtomically}; group 1 is their time. */
export const TEMP_FILE: RegExp = /^t-(\d{13})-[0-9a-f]+\.tmp$/;

/**
 * Writes `text` to `dir/name` atomically, owner-only.
 *
 * @param files File access.
 * @param dir The directory.
 * @param name The file's name.
 * @param text The content.
 * @param now The current time, in epoch milliseconds.
 * @param temp The temporary file, beside the target. @default {temporaryName(dir, now)}
 * @throws When the file cannot be written.
 * @example
 * ```ts
 * import { writeAtomically } from "./atomic.ts";
 * import { host } from "./runtime/mod.ts";
 * const files = host().files;
 * if (files) writeAtomically(files, "/tmp", "example.json", "{}", Date.now());
 * ```
 */
export function writeAtomically(
  files: HostFiles,
  dir: string,
  name: string,
  text: string,
  now: number,
  temp: string = temporaryName(dir, now),
): void {
  files.create(temp, text);
  try {
    files.rename(temp, `${dir === "/" ? "" : dir}/${name}`);
  } catch (error) {
    try {
      files.remove(temp);
    } catch {
      // Left for the cleaner.
    }
    throw error;
  }
}

/**
 * A fresh name for a temporary file in a directory, as {@link writeAtomically} uses.
 *
 * @param dir The directory.
 * @param now The current time, in epoch milliseconds.
 * @returns e.g. `/tmp/spool/t-1764300000000-3f9a0c41b2e7.tmp`.
 * @example
 * ```ts
 * import { temporaryName } from "./atomic.ts";
 * temporaryName("/tmp", 0); // "/tmp/t-0000000000000-…"
 * ```
 */
export function temporaryName(dir: string, now: number): string {
  return `${dir === "/" ? "" : dir}/t-${stamp(now)}-${randomHex()}.tmp`;
}

/**
 * Formats epoch milliseconds as 13 digits, so names sort by time.
 *
 * @param ms Epoch milliseconds.
 * @returns e.g. `1764300000000`.
 * @example
 * ```ts
 * import { stamp } from "./atomic.ts";
 * stamp(5); // "0000000000005"
 * ```
 */
export function stamp(ms: number): string {
  return String(Math.floor(ms)).padStart(13, "0");
}

/** `Math.random` as the package found it: a program may replace it later (with a seeded generator, or worse). */
const random = Math.random;

/**
 * A number in [0, 1), for jitter and names: from `Math.random` as the package found it or, where a program's
 * replacement gives anything else (NaN, 1, a string) or throws, from `crypto.getRandomValues` (under Node.js its
 * first use costs ms, so only then).
 *
 * @returns The number.
 * @example
 * ```ts
 * import { randomFraction } from "./atomic.ts";
 * const jitter = 1000 * randomFraction(); // within [0, 1000)
 * ```
 */
export function randomFraction(): number {
  let value: unknown;
  try {
    value = random();
  } catch {
    // Taken from crypto below.
  }
  return typeof value === "number" && value >= 0 && value < 1
    ? value
    : globalThis.crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32;
}

/**
 * Random hex digits, for names that must not collide (files written in the
 * same millisecond, session ids). Not secrets, so `Math.random` serves: under
 * Node.js the first use of `crypto` costs 7-10 ms, which a CLI would feel.
 * Mixed with the time, to the microsecond where the runtime tells it, so that a `Math.random` that repeats from run
 * to run (`deno run --seed`, `node --random-seed`, a program's seeded one) does not repeat them.
 *
 * @param digits How many hex digits. @default {12}
 * @returns e.g. `3f9a0c41b2e7`.
 * @example
 * ```ts
 * import { randomHex } from "./atomic.ts";
 * randomHex(32).length; // 32
 * ```
 */
export function randomHex(digits = 12): string {
  let hex = "";
  while (hex.length < digits) {
    const word = (Math.floor(randomFraction() * 2 ** 32) ^ scrambled(timeNow() + draws++)) >>> 0;
    hex += word.toString(16).padStart(8, "0");
  }
  return hex.slice(0, digits);
}

/** How many words {@link randomHex} drew in this process: no two draws of one moment mix in the same time. */
let draws = 0;

/** The time, in microseconds where the runtime tells it, in 32 bits; 0 where a program's clock fails. */
function timeNow(): number {
  try {
    const micros = Math.floor((globalThis.performance.timeOrigin + globalThis.performance.now()) * 1000);
    return Number.isFinite(micros) ? micros % 2 ** 32 : 0;
  } catch {
    return 0;
  }
}

/** A 32-bit number's bits spread over the whole word (xorshift), so that times a microsecond apart differ widely. */
function scrambled(value: number): number {
  let x = (value >>> 0) || 1;
  for (let round = 0; round < 3; round++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x >>> 0;
}
