/**
 * The sender: a short-lived detached process that delivers what runs of a
 * program spooled and handed off at their exit, so that no exit waits on the
 * network. It is this package's own handler replaying the spool of one
 * endpoint, pass after pass, with the same rules (claims, retries, health),
 * while it makes progress, under these bounds:
 *
 * - it lives at most {@link MAX_SENDER_LIFETIME_MS}, and starts no request
 *   that could not end before then, so it never abandons one the endpoint may
 *   have received;
 * - at most one sender works on an endpoint's spooled events at a time;
 * - it checks the user's decision when it starts and before each pass: an
 *   opt-out recorded since (or set in its environment) stops it;
 * - it prints nothing and reads no terminal.
 *
 * It never runs inside a program: a program starts it as its own script (see
 * `sender_main.ts`), never by evaluating the program again.
 *
 * @module
 */
import { effectiveConsent, setTelemetryEnabled } from "./consent.ts";
import { NATTelemetryHandler } from "./handler.ts";
import { host } from "./runtime/mod.ts";
import type { SenderConfig } from "./sender_config.ts";
import { MAX_SENDER_LIFETIME_MS, releaseSenderLock, senderAlive, takeSenderLock } from "./sender_lock.ts";
import { Spool, spoolKey } from "./spool.ts";

/** Time kept free before the end of a sender's life, for its last look at the spool and its exit. */
const END_MARGIN_MS = 250;

/**
 * Delivers the spool of one endpoint, within the sender's lifetime, then ends the process.
 *
 * @param config What the program handed over.
 * @returns A promise that settles when the sender is done (just before the process ends).
 * @example
 * ```ts ignore
 * import { runSender } from "./sender.ts";
 * await runSender(config);
 * ```
 */
export async function runSender(config: SenderConfig): Promise<void> {
  const runtime = host();
  // The hard bound: whatever is still going on then, the process ends.
  setTimeout(() => runtime.exit(0), MAX_SENDER_LIFETIME_MS);
  try {
    await deliverSpool(config, Date.now() + MAX_SENDER_LIFETIME_MS);
  } catch {
    // Nothing to report to: the sender has no output.
  }
  runtime.exit(0);
}

/** Whether the user's decision still lets the sender send: only an explicit "no" stops what the program began. */
function allowed(): boolean {
  const { enabled, source } = effectiveConsent();
  setTelemetryEnabled(enabled || source === "default");
  return enabled || source === "default";
}

async function deliverSpool(config: SenderConfig, deadline: number): Promise<void> {
  const files = host().files;
  const key = spoolKey(config.endpoint, config.format);
  const dir = config.spoolDir;
  if (!files || !allowed() || !takeSenderLock(files, dir, key, deadline)) return;
  let recheck = false;
  while (deadline - Date.now() > config.requestTimeoutSeconds * 1000 + END_MARGIN_MS && allowed()) {
    const handler = new NATTelemetryHandler({
      ...config,
      handOff: false,
      // The pass may use what is left of the sender's life; it starts no request that would outlast it.
      exitTimeoutSeconds: (deadline - Date.now() - END_MARGIN_MS) / 1000,
    });
    handler.start();
    await handler.stop();
    const { replayed, spooled } = handler.stats();
    if (replayed > spooled) {
      recheck = false;
      continue; // progress: look for what other runs handed off meanwhile
    }
    // Nothing left, or the endpoint fails (the handler recorded it for later runs): let go. A run that handed
    // off after the last look saw the lock and started no sender, so look once more after letting go, and take
    // the spool again if there is work; a second look that finds nothing it can take ends it.
    releaseSenderLock(files, dir, key);
    if (recheck || replayed > 0 || !hasWork(config, key) || !takeSenderLock(files, dir, key, deadline)) return;
    recheck = true;
  }
  releaseSenderLock(files, dir, key);
}

/** Whether the spool holds events of the key that no one has claimed, and no other sender is at work. */
function hasWork(config: SenderConfig, key: string): boolean {
  const files = host().files;
  if (!files || senderAlive(files, config.spoolDir, key, Date.now())) return false;
  const limits = {
    maxEvents: config.spoolMaxEvents,
    maxBytes: config.spoolMaxBytes,
    maxAgeMs: config.spoolMaxAgeDays * 86_400_000,
  };
  return Spool.open(config.spoolDir, files, limits, key)?.waitingSince(Date.now()) !== undefined;
}
