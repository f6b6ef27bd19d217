import { CliCommandEvent, type EventParameters, TelemetryEvent } from "../../mod.ts";
import type { DeliveryOutcome } from "../../src/delivery.ts";

/** A CLI event whose command names it, so tests can follow it on the wire. */
export function commandEvent(command: string, padBytes = 0): CliCommandEvent {
  // Padded where a test needs events of a size: in a field the event never checks for a name.
  const pythonVersion = padBytes > 0 ? "x".repeat(padBytes) : undefined;
  return new CliCommandEvent({ command, taskStatus: "success", durationMs: 5, exitCode: 0, pythonVersion });
}

/** The commands of the events a server received, in order. */
export function commands(events: { parameters: Record<string, unknown> }[]): unknown[] {
  return events.map((event) => event.parameters.command);
}

/** An event whose parameters are whatever the test says, valid or not. */
export class AnyEvent extends TelemetryEvent {
  readonly #parameters: () => unknown;
  constructor(parameters: () => unknown, schemaVersion?: string) {
    super("any_event", { schemaVersion });
    this.#parameters = parameters;
  }
  parameters(): EventParameters {
    return this.#parameters() as EventParameters;
  }
}

/** The sum of a stats object's dropped counters. */
export function droppedTotal(dropped: Record<string, number>): number {
  return Object.values(dropped).reduce((sum, n) => sum + n, 0);
}

/** A delivery's outcome without what its fetch threw (the wording is the runtime's), to compare the rest. */
export function withoutThrown(outcome: DeliveryOutcome): DeliveryOutcome {
  const { thrown: _, ...rest } = outcome as DeliveryOutcome & { thrown?: string };
  return rest as DeliveryOutcome;
}
