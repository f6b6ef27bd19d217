import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonLine } from "../src/json_line.ts";

const values = [
  { command: "run", nested: { list: [1, "two", true, null], empty: {} }, none: [] },
  { quoted: 'say "hi" \\ there', spaced: "  a\tb \n c\r\n", separators: "\u2028\u2029", braces: "{ [ , : ] }" },
  "a string alone",
  [["x-team", "a"], ["x-key", "b c"]],
];

test("jsonLine writes what JSON.stringify writes without indenting, whatever the program made of it", () => {
  const { stringify } = JSON;
  const expected = values.map((value) => stringify(value));
  const patches: Record<string, (value: unknown) => string> = {
    "two spaces": (value) => stringify(value, null, 2),
    "tabs and CRLF": (value) => stringify(value, null, "\t").replaceAll("\n", "\r\n"),
    "a line break after": (value) => `${stringify(value)}\n`,
  };
  for (const [name, patch] of Object.entries(patches)) {
    JSON.stringify = patch as typeof JSON.stringify;
    try {
      assert.deepEqual(values.map((value) => jsonLine(value)), expected, name);
    } finally {
      JSON.stringify = stringify;
    }
  }
  assert.deepEqual(values.map((value) => jsonLine(value)), expected, "unpatched");
});

test("jsonLine writes the value, not what a toJSON a program put on Object.prototype or Array.prototype answers", () => {
  const expected = values.map((value) => JSON.stringify(value));
  const pollutions: Record<string, [object, () => unknown]> = {
    "Object.prototype, an answer": [Object.prototype, () => "a program's own"],
    "Object.prototype, recursing": [Object.prototype, function (this: unknown) {
      return { self: this };
    }],
    "Array.prototype": [Array.prototype, () => []],
  };
  for (const [name, [prototype, toJSON]] of Object.entries(pollutions)) {
    Object.defineProperty(prototype, "toJSON", { value: toJSON, configurable: true, writable: true });
    let written: string[];
    try {
      written = values.map((value) => jsonLine(value));
    } finally {
      delete (prototype as { toJSON?: unknown }).toJSON;
    }
    assert.deepEqual(written, expected, name);
  }
  assert.deepEqual(values.map((value) => jsonLine(value)), expected, "unpolluted");
});

test("jsonLine writes the value where a Proxy made Array.prototype's prototype hides a toJSON from `in`", () => {
  const expected = values.map((value) => JSON.stringify(value));
  const lying = new Proxy(Object.prototype, {
    has: (target, key) => key !== "toJSON" && key in target,
    get: (target, key, receiver) => key === "toJSON" ? () => "a program's own" : Reflect.get(target, key, receiver),
  });
  Object.setPrototypeOf(Array.prototype, lying);
  let written: string[];
  try {
    written = values.map((value) => jsonLine(value));
  } finally {
    Object.setPrototypeOf(Array.prototype, Object.prototype);
  }
  assert.deepEqual(written, expected);
});
