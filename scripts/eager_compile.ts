/**
 * The published chunks' functions compiled with their chunk, not on their
 * first call: what `build_dist.ts` does to each chunk esbuild writes, and the
 * checks on the chunks' imports: no cycle (which makes the rewrite safe), and
 * no lazy import (a run loads no file of the package after its import).
 *
 * @module
 */
import { type FunctionDeclaration, type ModuleDeclaration, parse, type Statement, tokenizer } from "acorn";

/**
 * A chunk with its top-level function declarations turned into parenthesized function expressions
 * (`var f = (function () {...});`), defined before its other statements. V8 compiles a function in parentheses
 * together with the code around it (its heuristic for functions called at once) instead of on its first call, so
 * it is in the code cache a runtime keeps of the chunk (Deno always, Node.js with its compile cache on), and a
 * later run does not compile it again. A run calls much of the package once: loading and one `trackCommand`
 * with its spool write took 1.7-3.2 ms less under Deno and under Node.js with its compile cache (in process;
 * `deno task bench:footprint` runs `dist/` built without this rewrite beside it); under Node.js without one the
 * compiling moves from the first calls to loading (no change), and Bun's JavaScriptCore has no such heuristic. Defined first, each function exists before any code of the
 * chunk runs, as a hoisted declaration does; the chunks' static imports have no cycle (checked), so no chunk
 * calls into one that has not started. The expression is anonymous: its name is inferred from the variable
 * (`f.name` is `"f"`), and inside it `f` is the module's binding, as in a declaration, so a function that
 * reassigns or wraps itself behaves the same.
 *
 * @param code A chunk as esbuild wrote it.
 * @param eager Which functions to rewrite, by the module esbuild names in the chunk's comments (`src/delivery.ts`)
 *   and the function's name in the chunk; the others are left as written, compiled on their first call, so that
 *   a run that never calls them pays only their parsing (by default, every function is rewritten).
 * @returns The same chunk with those functions defined first and eagerly compiled.
 * @example
 * ```ts
 * import { compiledEagerly } from "./eager_compile.ts";
 * compiledEagerly('const x = f();\nfunction f() {\n  return 1;\n}\nexport { x };\n');
 * // 'var f = (function () {\n  return 1;\n});\nconst x = f();\n\nexport { x };\n'
 * ```
 */
export function compiledEagerly(
  code: string,
  eager: (module: string, name: string) => boolean = () => true,
): string {
  const { statements, declarations } = topLevelFunctions(code);
  const functions = declarations.filter(({ module, node }) => eager(module, node.id.name)).map(({ node }) => node);
  if (statements.some((node) => node.type === "ExportNamedDeclaration" && node.declaration)) {
    throw new Error("esbuild exported a declaration in place: compiledEagerly expects export lists");
  }
  const first = statements.find((node) => node.type !== "ImportDeclaration");
  if (!first || functions.length === 0) return code;
  const definitions = functions.map(({ start, end, id }) =>
    `var ${id.name} = (${code.slice(start, id.start)}${code.slice(id.end, end)});\n`
  );
  let rest = code.slice(first.start);
  for (const { start, end } of functions.toReversed()) {
    rest = rest.slice(0, start - first.start) + rest.slice(end - first.start);
  }
  return code.slice(0, first.start) + definitions.join("") + rest;
}

/**
 * A chunk's statements, and its top-level function declarations with the module each comes from (esbuild starts
 * each module's code with a comment naming it: `// src/delivery.ts`).
 *
 * @param code A chunk as esbuild wrote it.
 * @returns The statements acorn parsed, and the declarations among them, in order.
 * @example
 * ```ts
 * import { topLevelFunctions } from "./eager_compile.ts";
 * topLevelFunctions("// src/a.ts\nfunction a() {}\n").declarations[0].module; // "src/a.ts"
 * ```
 */
export function topLevelFunctions(code: string): {
  statements: (Statement | ModuleDeclaration)[];
  declarations: { module: string; node: FunctionDeclaration }[];
} {
  const modules: { start: number; path: string }[] = [];
  const onComment = (block: boolean, text: string, start: number) => {
    if (!block && /^ \S+\.ts$/.test(text)) modules.push({ start, path: text.slice(1) });
  };
  const statements = parse(code, { ecmaVersion: "latest", sourceType: "module", onComment }).body;
  const moduleAt = (position: number) => modules.findLast(({ start }) => start < position)?.path ?? "";
  const declarations = statements.flatMap((node) =>
    node.type === "FunctionDeclaration" ? [{ module: moduleAt(node.start), node }] : []
  );
  return { statements, declarations };
}

/**
 * The files of `dist/` a chunk imports statically: `import ... from`, `import "..."`, `export ... from`.
 *
 * @param code A chunk.
 * @returns The names of the chunks it imports, in order.
 * @example
 * ```ts
 * import { staticImports } from "./eager_compile.ts";
 * staticImports('import {\n  a\n} from "./chunk-A.js";\nimport "./chunk-B.js";\n'); // ["chunk-A.js", "chunk-B.js"]
 * ```
 */
export function staticImports(code: string): string[] {
  return parse(code, { ecmaVersion: "latest", sourceType: "module" }).body.flatMap((node) => {
    const source = "source" in node ? node.source?.value : undefined;
    return typeof source === "string" && source.startsWith("./") ? [source.slice(2)] : [];
  });
}

/**
 * Throws if the chunks' static imports form a cycle (a chunk could then run before another's functions exist).
 *
 * @param files The chunks' code, by name.
 * @throws {Error} Naming the cycle.
 * @example
 * ```ts
 * import { assertNoImportCycle } from "./eager_compile.ts";
 * assertNoImportCycle(new Map([["a.js", 'import "./b.js";'], ["b.js", ""]])); // no cycle: returns
 * ```
 */
export function assertNoImportCycle(files: Map<string, string>): void {
  const imports = (name: string) => staticImports(files.get(name) ?? "");
  const done = new Set<string>();
  const visit = (name: string, path: string[]) => {
    if (path.includes(name)) throw new Error(`dist/ has an import cycle: ${[...path, name].join(" -> ")}`);
    if (done.has(name)) return;
    for (const next of imports(name)) visit(next, [...path, name]);
    done.add(name);
  };
  for (const name of files.keys()) visit(name, []);
}

/**
 * Throws if a chunk imports a module lazily (`import(...)`): a bundler that splits (ncc, webpack) would give that
 * module a file of its own, which a Node.js single executable does not embed, so a run there could not load it.
 *
 * @param files The chunks' code, by name.
 * @throws {Error} Naming the chunk.
 * @example
 * ```ts
 * import { assertNoLazyImport } from "./eager_compile.ts";
 * assertNoLazyImport(new Map([["a.js", 'import { b } from "./b.js";\nconst text = "import(x)";']])); // returns
 * ```
 */
export function assertNoLazyImport(files: Map<string, string>): void {
  for (const [name, code] of files) {
    let previous: string | undefined;
    for (const { type } of tokenizer(code, { ecmaVersion: "latest", sourceType: "module" })) {
      if (previous === "import" && type.label === "(") throw new Error(`dist/${name} imports a module lazily`);
      previous = type.keyword ?? type.label;
    }
  }
}
