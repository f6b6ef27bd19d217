/**
 * Temporary spool directories for tests, and a look at what they hold.
 *
 * @module
 */
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { spoolKey } from "../../src/spool.ts";

/**
 * A fresh temporary directory, removed by `Symbol.dispose`; the removal is tried again when a file appears while it
 * runs (a sender that outlived its test writing its last file: tests that hand off wait for their senders' end).
 */
export function tempDir(): { path: string } & Disposable {
  const path = mkdtempSync(`${tmpdir()}/nat-telemetry-test-`);
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true, maxRetries: 5 }) };
}

/**
 * A fresh temporary directory that lives as long as the test process: removed when it ends. For what a test file
 * makes once and shares (a certificate, a built executable). Not `after()`: Deno's `node:test` skips a file's
 * `after` hooks when one of its tests is skipped; Deno fires `unload` at the end instead of `process`'s `exit`.
 *
 * @param prefix The directory's name, before the random part.
 */
export function tempDirForTheProcess(prefix = "nat-telemetry-test-"): string {
  const path = mkdtempSync(`${tmpdir()}/${prefix}`);
  const remove = () => rmSync(path, { recursive: true, force: true });
  process.once("exit", remove);
  globalThis.addEventListener?.("unload", remove);
  return path;
}

/** An access time long past, which a read of the file moves (see {@link readsAreDated}). */
export const LONG_AGO = new Date(1_000_000_000_000);

/**
 * Whether reading a file moves its access time here (not a `noatime` mount), its access time set to
 * {@link LONG_AGO} before and after: whether a file was read can then be told.
 *
 * @param file A file to read.
 */
export function readsAreDated(file: string): boolean {
  const unread = () => utimesSync(file, LONG_AGO, statSync(file).mtime);
  unread();
  readFileSync(file);
  const dated = statSync(file).atimeMs !== LONG_AGO.getTime();
  unread();
  return dated;
}

/** The names of a directory's files, sorted. */
export function files(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** Every event line in the directory's spool files (unclaimed and claimed), parsed. */
export function spooled(
  dir: string,
): { retries: number; cuts?: number; timestamp: number; event: { parameters: Record<string, unknown>; ts: string } }[] {
  return files(dir)
    .filter((name) => name.endsWith(".jsonl"))
    .flatMap((name) => readFileSync(`${dir}/${name}`, "utf8").split("\n").filter(Boolean))
    .map((line) => JSON.parse(line));
}

/** Removes the endpoint health files in a spool directory: as if the wait had passed, or the endpoint moved. */
export function forgetHealth(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of files(dir).filter((name) => name.startsWith("health-"))) rmSync(`${dir}/${name}`);
}

/** The sender locks in a spool directory (one per endpoint a sender works on right now). */
export function senderLocks(dir: string): string[] {
  return existsSync(dir)
    ? files(dir).filter((name) => /^sender-[0-9a-f]{8}-\d{13}-[0-9a-f]{12}\.lock$/.test(name))
    : [];
}

/**
 * Spools an earlier run's event for `url` in a file of its own, as a run does, `ageMs` ago (a second by default);
 * `n` orders the files. Returns the file's path.
 */
export function spoolEvent(spool: string, url: string, command: string, sessionId: string, n: number, ageMs = 1000) {
  const timestamp = Date.now() - ageMs - n;
  const event = { ts: new Date(timestamp).toISOString(), parameters: { command }, name: "nat_cli_command" };
  const line = `${JSON.stringify({ retries: 0, schemaVersion: "1.5", sessionId, timestamp, event })}\n`;
  const path = `${spool}/e-${timestamp}-1-${line.length}-${spoolKey(url)}-${String(n).padStart(12, "0")}.jsonl`;
  writeFileSync(path, line);
  return path;
}
