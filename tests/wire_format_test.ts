import { test } from "node:test";
import assert from "node:assert/strict";
import type { PendingEvent } from "../src/batch.ts";
import { natFormat, otlpFormat, type WireFormat } from "../src/wire_format.ts";

const sender = { serviceName: "cli", serviceVersion: "1.0.0", resourceAttributes: {} };

/** A pending event of an envelope of its own: a session, a client version and a schema version. */
const pending = (sessionId: string, clientVersion?: string, schemaVersion = "1.5"): PendingEvent => ({
  json: '{"ts":"2026-01-01T00:00:00.000Z","parameters":{"command":"run"},"name":"nat_cli_command"}',
  bytes: 83,
  schemaVersion,
  sessionId,
  clientVersion,
  timestamp: 0,
  retries: 0,
  notBefore: 0,
});

/** Each envelope's size, as a format made for the one event alone measures it. */
const alone = (make: () => WireFormat, event: PendingEvent) => make().emptyBytes(event);

test("an envelope's size follows each event's own session, client version and schema version, in any order", () => {
  // Each differs from the one before in one field alone.
  const events = [
    pending("short"),
    pending("short"),
    pending("short", "0.9.0-an-older-client"),
    pending("short", "0.9.0-an-older-client", `1.5${"9".repeat(40)}`),
    pending("short", "0.9.0-an-older-client"),
    pending("short"),
    pending(`a-longer-session-${"x".repeat(300)}`),
    pending("é-ß-session"),
  ];
  for (const make of [() => natFormat("1.0.0"), () => otlpFormat(sender)]) {
    const format = make();
    const sizes = events.map((event) => format.emptyBytes(event));
    assert.deepEqual(sizes, events.map((event) => alone(make, event)), format.name);
    assert.ok(sizes[6] > sizes[0] + 300, `${format.name}: the longer session is measured, not the last one's size`);
  }
});

test("an OTLP event's size is its record's, in UTF-8, the same when measured again and when sent", () => {
  const format = otlpFormat(sender);
  const event = { ...pending("s"), json: '{"ts":"2026-01-01T00:00:00.000Z","parameters":{"c":"é"},"name":"n"}' };
  const bytes = format.eventBytes(event);
  assert.equal(format.eventBytes(event), bytes);
  const body = format.encode([event], 0);
  assert.equal(new TextEncoder().encode(body).length, format.emptyBytes(event) + bytes);
});
