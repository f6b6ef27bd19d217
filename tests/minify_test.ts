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

test("a minified chunk exports the same, named as before, with its markers and eager functions' parentheses", async () => {
  using dir = tempDir();
  const eager = compiledEagerly(CHUNK);
  const small = await minified(eager);
  await esbuild.stop();
  writeFileSync(`${dir.path}/written.mjs`, eager);
  writeFileSync(`${dir.path}/minified.mjs`, small);
  const load = (name: string) => import(pathToFileURL(`${dir.path}/${name}.mjs`).href);
  const [written, made] = [await load("written"), await load("minified")];
  assert.deepEqual(Object.keys(made).sort(), Object.keys(written).sort());
  for (const key of Object.keys(written)) {
    assert.equal(typeof made[key], typeof written[key], key);
    if (typeof written[key] === "function") assert.equal(made[key].name, key, key);
  }
  assert.deepEqual(made.TaskStatus, written.TaskStatus);
  assert.ok(made.TelemetryEvent.create() instanceof made.TelemetryEvent);
  assert.ok(new made.CliCommandEvent() instanceof made.TelemetryEvent);
  assert.equal(await made.trackCommand({ offset: 2 }, () => 1), 3);
  assert.equal(made.describeAll(1, "a"), "number,string");
  assert.deepEqual([...made.counted()], [1]);

  assert.match(small, /\/\/! src\/events\.ts\n/);
  assert.match(small, /\/\/! src\/command\.ts\n/);
  assert.equal(small.match(/=\((async )?function\*?\(/g)?.length, 2, "the rewritten functions stay in parentheses");
  assert.ok(!small.includes("exitCodeOfTheCommand"), "local names are shortened");
  assert.ok(!/\n\s/.test(small), "no indentation is left");
});

test("a chunk whose exports keep their names needs no renaming statement", async () => {
  const small = await minified('// src/a.ts\nimport { f } from "./chunk-A.js";\nvar n = 1;\nexport { f, n };\n');
  await esbuild.stop();
  assert.ok(!small.includes("defineProperty"), small);
});
