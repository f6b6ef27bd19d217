/**
 * The batches a handler has sent and not settled yet: each is settled by its
 * request, unless the exit budget took its events back first.
 *
 * @module
 */
import type { PendingEvent } from "./batch.ts";

/**
 * Batches in flight, held as batches: a request settles its batch in one step, not event by event (a handler
 * streaming events settles thousands a second).
 *
 * @example
 * ```ts
 * import { InFlight } from "./in_flight.ts";
 * const inFlight = new InFlight();
 * const batch = [{ json: "{}", bytes: 2, schemaVersion: "1.5", sessionId: "s", timestamp: 0, retries: 0, notBefore: 0 }];
 * inFlight.add(batch);
 * inFlight.size; // 1
 * inFlight.settle(batch); // true: its request settles it
 * inFlight.settle(batch); // false: no longer in flight
 * ```
 */
export class InFlight {
  readonly #batches = new Set<readonly PendingEvent[]>();
  #size = 0;

  /** Events in flight. */
  get size(): number {
    return this.#size;
  }

  /** A batch whose request starts. */
  add(batch: readonly PendingEvent[]): void {
    this.#batches.add(batch);
    this.#size += batch.length;
  }

  /**
   * Takes a batch out of flight, for its request to settle its events.
   *
   * @returns Whether it was in flight: false once its events were taken back.
   */
  settle(batch: readonly PendingEvent[]): boolean {
    if (!this.#batches.delete(batch)) return false;
    this.#size -= batch.length;
    return true;
  }

  /** Every event in flight, in the order their batches started. */
  events(): PendingEvent[] {
    return [...this.#batches].flat();
  }

  /** Takes every batch out of flight: their requests no longer settle them. */
  clear(): void {
    this.#batches.clear();
    this.#size = 0;
  }
}
