/**
 * The one small interface through which the rest of the package reaches the
 * runtime. A Deno and a Node/Bun implementation live beside this file; without
 * either (a browser, a worker) the core runs without them.
 *
 * @module
 */

/** What the package needs from the runtime. Every method is total: it never throws and never prompts. */
export interface Host {
  /**
   * Reads an environment variable.
   *
   * @param name The variable's name.
   * @returns Its value, or `undefined` when unset or not readable (no Deno `--allow-env`).
   */
  env(name: string): string | undefined;
  /**
   * Writes text to standard error; failures are ignored.
   *
   * @param text The text to write, newline included.
   */
  writeStderr(text: string): void;
  /**
   * Lets the process exit even while this timer is pending.
   *
   * @param timer What `setTimeout` returned.
   */
  unrefTimer(timer: unknown): void;
}
