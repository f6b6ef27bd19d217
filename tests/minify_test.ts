/**
 * The minifying `deno task build:dist` does to every published chunk, after
 * the eager rewrite: a chunk runs as written and as minified, from real files,
 * and must export the same values under the same names, its functions and
 * classes named as before, and keep what the build and the runtimes rely on
 * (each module's marker, the parentheses of eagerly compiled functions).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { compiledEagerly } from "../scripts/eager_compile.ts";
import { minified } from "../scripts/minify.ts";
import { tempDir } from "./helpers/spool_dir.ts";

/** A chunk as esbuild writes one: modules marked, export lists, a class named in its body. */
const CHUNK = `
// src/events.ts
var TelemetryEvent = class _TelemetryEvent {
  static create() {
    return new _TelemetryEvent();
  }
};
var CliCommandEvent = class extends TelemetryEvent {
};
var TaskStatus = { SUCCESS: "success" };

// src/command.ts
async function trackCommand(options, main) {
  const exitCodeOfTheCommand = await main();
  return exitCodeOfTheCommand + options.offset;
}
var describeAll = (...values) => values.map((value) => typeof value).join(",");
function* counted() {
  yield 1;
}
export {
  CliCommandEvent,
  TaskStatus,
  TelemetryEvent,
  counted,
  describeAll,
  trackCommand
};
`;

/** The entry that publishes part of {@link CHUNK}, as esbuild writes one. */
const ENTRY = 'import {\n  CliCommandEvent,\n  TelemetryEvent,\n  trackCommand\n} from "./chunk.mjs";\n' +
  "export {\n  CliCommandEvent,\n  TelemetryEvent,\n  trackCommand\n};\n";

test("a minified chunk exports the same; the API's functions and classes are named as before", async () => {
  using dir = tempDir();
  const eager = compiledEagerly(CHUNK);
  const small = await minified(new Map([["chunk.mjs", eager], ["mod.mjs", ENTRY]]), ["mod.mjs"]);
  await esbuild.stop();
  writeFileSync(`${dir.path}/written.mjs`, eager);
  for (const [name, code] of small) writeFileSync(`${dir.path}/${name}`, code);
  const load = (name: string) => import(pathToFileURL(`${dir.path}/${name}`).href);
  const [written, made, api] = [await load("written.mjs"), await load("chunk.mjs"), await load("mod.mjs")];
  assert.deepEqual(Object.keys(made).sort(), Object.keys(written).sort());
  for (const key of Object.keys(written)) assert.equal(typeof made[key], typeof written[key], key);
  assert.deepEqual(Object.keys(api).sort(), ["CliCommandEvent", "TelemetryEvent", "trackCommand"]);
  for (const key of Object.keys(api)) assert.equal(api[key].name, key, key);
  assert.notEqual(made.describeAll.name, "describeAll", "what no entry exports keeps its short name");
  assert.deepEqual(made.TaskStatus, written.TaskStatus);
  assert.ok(made.TelemetryEvent.create() instanceof made.TelemetryEvent);
  assert.ok(new made.CliCommandEvent() instanceof made.TelemetryEvent);
  assert.equal(await made.trackCommand({ offset: 2 }, () => 1), 3);
  assert.equal(made.describeAll(1, "a"), "number,string");
  assert.deepEqual([...made.counted()], [1]);
});

test("a minified chunk keeps its eager functions' parentheses, short lines, and the names of its modules", async () => {
  const long = `var text = ${JSON.stringify("x".repeat(500))};\nexport { text };\n`;
  const small = await minified(new Map([["chunk.mjs", compiledEagerly(CHUNK + long)]]), []);
  await esbuild.stop();
  const code = small.get("chunk.mjs")!;
  assert.equal(code.split("\n")[0], "// Bundled from: src/events.ts, src/command.ts");
  assert.equal(code.match(/=\((async )?function\*?\(/g)?.length, 2, "the rewritten functions stay in parentheses");
  assert.ok(!code.includes("exitCodeOfTheCommand"), "local names are shortened");
  assert.ok(!/\n\s/.test(code), "no indentation is left");
  // esbuild ends a line soon after 120 characters; a token it cannot split (a pattern) may run further.
  for (const line of code.split("\n").slice(1)) assert.ok(line.length <= 300, `a line of ${line.length} characters`);
  assert.ok(!code.includes("defineProperty"), "no entry: no name is set");
});
