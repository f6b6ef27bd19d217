/**
 * The spool states that `run_path.ts` and the footprint benchmark start their runs from: an endpoint marked down, a
 * spool a long outage filled, and the wait for senders to finish, so that no run finds one at work.
 *
 * @module
 */
import { shortHash } from "../src/hash.ts";
import { spoolKey } from "../src/spool.ts";

/**
 * Marks an endpoint down in a spool directory (made if missing), for 50 minutes: runs spool at once and start no
 * sender.
 *
 * @param spool The spool directory.
 * @param endpoint The endpoint.
 * @example
 * ```ts ignore
 * markDown("/tmp/spool", "http://127.0.0.1:9/down");
 * ```
 */
export function markDown(spool: string, endpoint: string): void {
  Deno.mkdirSync(spool, { recursive: true, mode: 0o700 });
  const state = { failures: 9, notBefore: Date.now() + 3_000_000 };
  Deno.writeTextFileSync(`${spool}/health-${shortHash(endpoint)}.json`, JSON.stringify(state));
}

/**
 * Fills a spool as a long outage leaves it: a one-event file per run for `endpoint`, the oldest an hour old.
 *
 * @param spool The spool directory.
 * @param endpoint The endpoint the events wait for.
 * @param files How many (the spool's bound, 1000 by default, makes the next run make room for its own).
 * @example
 * ```ts ignore
 * fillAsAnOutage("/tmp/spool", "http://127.0.0.1:9/down", 999);
 * ```
 */
export function fillAsAnOutage(spool: string, endpoint: string, files: number): void {
  const now = Date.now();
  for (let i = 0; i < files; i++) {
    const time = now - 3_600_000 + i * 1000;
    const event = '{"ts":"2026-01-01T00:00:00.000Z","parameters":{"command":"run"},"name":"nat_cli_command"}';
    const line = `{"retries":0,"schemaVersion":"1.5","sessionId":"s","timestamp":${time},"event":${event}}\n`;
    const name = `e-${time}-1-${line.length}-${spoolKey(endpoint)}-${String(i).padStart(12, "0")}.jsonl`;
    Deno.writeTextFileSync(`${spool}/${name}`, line, { mode: 0o600 });
  }
}

/**
 * Waits (up to 15 s) until no sender is starting or at work in a spool directory, and none holds a claim there.
 *
 * @param spool The spool directory.
 * @example
 * ```ts ignore
 * await sendersDone("/tmp/spool");
 * ```
 */
export async function sendersDone(spool: string): Promise<void> {
  const busy = () => {
    try {
      return [...Deno.readDirSync(spool)].some(({ name }) => /^sender-.*\.(lock|start)$|^l-/.test(name));
    } catch {
      return false;
    }
  };
  for (let waited = 0; waited < 15_000 && busy(); waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
