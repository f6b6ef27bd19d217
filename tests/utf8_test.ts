import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { utf8Length } from "../src/utf8.ts";

test("utf8Length counts what TextEncoder writes: ASCII, 2-, 3- and 4-byte characters, lone surrogates", () => {
  const encoder = new TextEncoder();
  for (const text of ["", "abc", "é", "€", "😀", "a😀b", "\ud800", "x\udc00y", "\ud83d", "\ud800\ud800\udc00"]) {
    assert.equal(utf8Length(text), encoder.encode(text).byteLength, JSON.stringify(text));
  }
});

test("property: utf8Length equals TextEncoder's byte length for any string", () => {
  const encoder = new TextEncoder();
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
      assert.equal(utf8Length(text), encoder.encode(text).byteLength);
    }),
    { numRuns: 2000 },
  );
});
