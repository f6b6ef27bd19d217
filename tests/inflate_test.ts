import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { inflatedText, inflateRaw } from "../src/inflate.ts";
import { shortHash } from "../src/hash.ts";
import { senderScript } from "../src/sender_script.ts";
import { SENDER_SCRIPT_BYTES, SENDER_SCRIPT_NAME } from "../src/sender_script_name.ts";

/** Raw DEFLATE of `bytes`, as this runtime's own compressor writes it (zlib under Node.js and Bun, Rust's under Deno). */
async function deflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** `length` bytes of a seeded generator: incompressible, and the same in every runtime. */
function noise(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0, x = seed; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

const text = (value: string) => new TextEncoder().encode(value);

test("inflateRaw reads what the runtime's compressor writes: fixed, dynamic and stored blocks, far matches", async () => {
  // A text whose repeats lie up to 30 KB back (distance codes 22-29), more than one dynamic block.
  const phrases = Array.from({ length: 600 }, (_, i) => `phrase ${i} of the sender's script; `).join("");
  const far = phrases + new TextDecoder().decode(noise(20_000).map((byte) => 32 + (byte % 90))) + phrases;
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array()],
    ["one byte", text("x")],
    ["short text (a fixed block)", text("hi")],
    ["a run of one byte", new Uint8Array(100_000).fill(7)],
    ["far repeats", text(far)],
    ["noise past a stored block's 65,535 bytes", noise(150_000)],
    ["noise then text", new Uint8Array([...noise(70_000), ...text(phrases)])],
  ];
  for (const [name, bytes] of cases) {
    assert.deepEqual(inflateRaw(await deflateRaw(bytes)), bytes, name);
  }
});

test("property: inflateRaw gives back any bytes the runtime's compressor was given", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.string({ maxLength: 2000 }).map(text)),
      async (bytes) => assert.deepEqual(inflateRaw(await deflateRaw(bytes)), bytes),
    ),
    { numRuns: 300 },
  );
});

test("inflateRaw refuses what is not DEFLATE with a RangeError: cut short, a reserved type, a bad stored length", async () => {
  const whole = await deflateRaw(text("the sender's script, ".repeat(200)));
  for (let length = 0; length < whole.length; length++) {
    assert.throws(() => inflateRaw(whole.subarray(0, length)), RangeError, `cut to ${length} of ${whole.length}`);
  }
  assert.throws(() => inflateRaw(new Uint8Array([0b111])), /type is 3/);
  assert.throws(() => inflateRaw(new Uint8Array([0b1, 2, 0, 0, 0, 65, 66])), /complement/);
  // A fixed block whose first symbol is a match: nothing before it to copy.
  assert.throws(() => inflateRaw(new Uint8Array([0x03, 0x02, 0x00])), /before the start/);
});

test("property: inflateRaw ends on any bytes, returning or throwing a RangeError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      try {
        inflateRaw(bytes);
      } catch (error) {
        assert.ok(error instanceof RangeError, String(error));
      }
    }),
    { numRuns: 3000 },
  );
});

test("inflatedText decodes base64 of raw DEFLATE to its ASCII text, and refuses what is not base64", async () => {
  const value = 'the sender\'s script: {"key": [1, 2]}\n'.repeat(50);
  const bytes = await deflateRaw(text(value));
  // Base64 of 3n, 3n + 1 and 3n + 2 bytes: no padding, "==" and "=".
  const remainders = new Set<number>();
  for (let cut = 0; cut < 30; cut++) {
    const some = await deflateRaw(text(value.slice(cut)));
    remainders.add(some.length % 3);
    assert.equal(
      inflatedText(btoa(String.fromCharCode(...some))),
      value.slice(cut),
      `cut ${cut}: ${some.length} bytes`,
    );
  }
  assert.deepEqual([...remainders].sort(), [0, 1, 2]);
  assert.equal(inflatedText(btoa(String.fromCharCode(...bytes))), value);
  assert.equal(inflatedText("y8gEAA=="), "hi", "the doc comment's example");
  assert.deepEqual(inflateRaw(new Uint8Array([0xcb, 0xc8, 0x04, 0x00])), text("hi"), "inflateRaw's example");
  assert.throws(() => inflatedText("y8g*AA=="), /base64 has no digit "\*"/);
  assert.throws(() => inflatedText("y8gEAA\u00e9="), /base64 has no digit/);
});

test("senderScript() inflates to the script its name and size were made from", () => {
  const script = senderScript();
  assert.equal(SENDER_SCRIPT_NAME, `sender-${shortHash(script)}.mjs`);
  assert.equal(text(script).length, SENDER_SCRIPT_BYTES);
  assert.match(script, /^var /, "the bundle's first statement");
});
