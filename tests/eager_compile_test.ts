/**
 * The rewrite `deno task build:dist` makes to every published chunk (top-level
 * functions as parenthesized expressions, defined first): each module here runs
 * as written and as rewritten, from real files, and must export the same; and
 * the guards against import cycles between chunks and lazy imports, on imports
 * written the ways esbuild writes them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { assertNoImportCycle, assertNoLazyImport, compiledEagerly, staticImports } from "../scripts/eager_compile.ts";
import { tempDir } from "./helpers/spool_dir.ts";

/** Modules whose meaning a careless rewrite changes. */
const MODULES: Record<string, string> = {
  "a function that replaces itself on its first call": `
const first = lazy();
const second = lazy();
function lazy() {
  lazy = () => "again";
  return "first";
}
export { first, second };
`,
  "a function the module wraps, whose recursion goes through the wrapper": `
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
let calls = 0;
const inner = fib;
fib = (n) => (calls++, inner(n));
const result = fib(10);
export { calls, result };
`,
  "names, lengths, async and generator functions": `
function plain(a, b) {}
async function waits() {}
function* counts() {
  yield 1;
  yield 2;
}
async function* streams() {}
const info = [plain.name, plain.length, waits.name, waits.constructor.name, [...counts()], streams.name];
export { info };
`,
  "a function called before its definition while the module runs": `
const early = later();
class Derived extends base() {}
function later() {
  return 42;
}
function base() {
  return class {
    kind() {
      return "base";
    }
  };
}
const kind = new Derived().kind();
export { early, kind };
`,
};

test("a rewritten module exports what it exported as written", async () => {
  using dir = tempDir();
  let n = 0;
  const load = async (code: string) => {
    const path = `${dir.path}/m${n++}.mjs`;
    writeFileSync(path, code);
    return JSON.stringify(await import(pathToFileURL(path).href));
  };
  for (const [label, code] of Object.entries(MODULES)) {
    const rewritten = compiledEagerly(code);
    assert.match(rewritten, /^var \w+ = \((async )?function\*? ?\(/m, `${label}: rewritten`);
    assert.equal(await load(rewritten), await load(code), label);
  }
});

test("only the functions chosen by module and name are rewritten; the others are left as written, and still run", async () => {
  using dir = tempDir();
  const chunk = "// src/a.ts\nfunction a() {\n  return 1;\n}\n\n// src/b.ts\nfunction b() {\n  return a() + 1;\n}\n" +
    "function a2() {\n  return 0;\n}\nconst value = b() + a2();\nexport { value };\n";
  const chosen: string[] = [];
  const rewritten = compiledEagerly(chunk, (module, name) => {
    chosen.push(`${module}:${name}`);
    return module === "src/a.ts" || name === "a2";
  });
  assert.deepEqual(chosen, ["src/a.ts:a", "src/b.ts:b", "src/b.ts:a2"]);
  assert.match(rewritten, /^var a = \(function/m);
  assert.match(rewritten, /^var a2 = \(function/m);
  assert.match(rewritten, /^function b\(\)/m);
  writeFileSync(`${dir.path}/chunk.mjs`, rewritten);
  assert.equal((await import(pathToFileURL(`${dir.path}/chunk.mjs`).href)).value, 2);
});

test("the rewrite refuses a chunk that exports a declaration in place, which it does not expect", () => {
  assert.throws(() => compiledEagerly("export function f() {}\n"), /export lists/);
});

test("a chunk's static imports are read as esbuild writes them; dynamic imports are not static", () => {
  const chunk = 'import {\n  a,\n  b\n} from "./chunk-A.js";\nimport "./chunk-B.js";\nexport * from "./chunk-C.js";\n' +
    'export { d } from "./chunk-D.js";\nimport "node:fs";\nconst later = () => import("./chunk-E.js");\n';
  assert.deepEqual(staticImports(chunk), ["chunk-A.js", "chunk-B.js", "chunk-C.js", "chunk-D.js"]);
});

test("an import cycle between chunks is refused, however the imports are written; none passes", () => {
  const chunks = new Map([
    ["a.js", 'import {\n  x\n} from "./b.js";\nexport const y = x;\n'],
    ["b.js", 'import "./c.js";\nexport const x = 1;\n'],
    ["c.js", 'export * from "./a.js";\n'],
  ]);
  assert.throws(() => assertNoImportCycle(chunks), /a\.js -> b\.js -> c\.js -> a\.js/);
  chunks.set("c.js", 'export const z = () => import("./a.js");\n');
  assert.doesNotThrow(() => assertNoImportCycle(chunks));
});

test("a lazy import is refused wherever it is written; text that only looks like one passes", () => {
  for (
    const code of ['const m = await import("./x.js");\n', 'f(`${await import ("./y.js")}`);\n', "import(\n  u\n);\n"]
  ) {
    assert.throws(() => assertNoLazyImport(new Map([["a.js", code]])), /a\.js imports a module lazily/, code);
  }
  const lookalikes = 'import { x } from "./b.js";\nconst s = "import(x)";\nconst t = `import(${x})`;\n' +
    "const r = /import\\(/;\nconst u = import.meta.url; // import(z)\n";
  assert.doesNotThrow(() => assertNoLazyImport(new Map([["a.js", lookalikes]])));
});
