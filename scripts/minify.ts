/**
 * The published chunks minified: what `build_dist.ts` does to each file of
 * `dist/` once its functions are rewritten to compile with their chunk. A run
 * parses the whole chunk it loads, and the runtimes' parsers pay by the
 * character and by the name: minified, a run that hands off took Node.js 8.8 M
 * fewer instructions (11% of what the package adds to a run; callgrind),
 * Deno and Bun 3.6 M each (docs/performance.md#footprint).
 *
 * @module
 */
import * as esbuild from "esbuild";
import { parse } from "acorn";

/**
 * A chunk minified by esbuild (whitespace, syntax, local names), keeping what the source's readers and the
 * package's checks rely on:
 * - each module's marker, esbuild's `// src/delivery.ts`, as `//! src/delivery.ts` (a comment esbuild keeps);
 * - the parentheses around the functions `compiledEagerly` wrote (esbuild keeps them: V8's cue to compile the
 *   function with its chunk);
 * - the name of each function and class the chunk exports (`trackCommand.name`, a class's name in a stack or
 *   `console.log`), which minifying would make a letter: set back at the chunk's end. esbuild's `keepNames`
 *   would keep every function's, at the cost of a call per function at load (4.3 M instructions under Node.js).
 *
 * @param code A chunk as `compiledEagerly` wrote it.
 * @returns The chunk minified.
 * @example
 * ```ts
 * import { minified } from "./minify.ts";
 * await minified('// src/a.ts\nvar trackCommand = (function (x) {\n  return x;\n});\nexport { trackCommand };\n');
 * // '//! src/a.ts\nvar r=(function(n){return n});export{r as trackCommand};\n' +
 * //   'Object.defineProperty(r,"name",{value:"trackCommand"});\n'
 * ```
 */
export async function minified(code: string): Promise<string> {
  const marked = code.replace(/^\/\/ (\S+\.ts)$/gm, "//! $1");
  const { code: small } = await esbuild.transform(marked, {
    minify: true,
    legalComments: "inline",
    format: "esm",
    target: "es2022",
    logLevel: "warning",
  });
  return small + namesKept(small);
}

/**
 * The statements that give each function and class a chunk exports under another name its exported name again.
 *
 * @param code A minified chunk.
 * @returns One `Object.defineProperty` statement per such export, on a line of their own (empty if none).
 */
function namesKept(code: string): string {
  const statements = parse(code, { ecmaVersion: "latest", sourceType: "module" }).body;
  const callable = new Set<string>();
  for (const node of statements) {
    if ((node.type === "FunctionDeclaration" || node.type === "ClassDeclaration") && node.id) {
      callable.add(node.id.name);
    }
    if (node.type !== "VariableDeclaration") continue;
    for (const { id, init } of node.declarations) {
      const isCallable = init?.type === "FunctionExpression" || init?.type === "ArrowFunctionExpression" ||
        init?.type === "ClassExpression";
      if (id.type === "Identifier" && isCallable) callable.add(id.name);
    }
  }
  const renamed = statements.flatMap((node) =>
    node.type === "ExportNamedDeclaration" && !node.source ? node.specifiers : []
  ).flatMap(({ local, exported }) => {
    const [from, to] = [local, exported].map((name) => name.type === "Identifier" ? name.name : String(name.value));
    return from !== to && callable.has(from) ? [[from, to]] : [];
  });
  const naming = renamed.map(([from, to]) => `Object.defineProperty(${from},"name",{value:${JSON.stringify(to)}});`);
  return naming.length === 0 ? "" : `${naming.join("")}\n`;
}
