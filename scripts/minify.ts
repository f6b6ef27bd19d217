/**
 * The published files minified: what `build_dist.ts` does to `dist/` once its
 * chunks' functions are rewritten to compile with their chunk. A run parses
 * the whole chunk it loads, and the runtimes' parsers pay by the character
 * and by the name: minified, importing the package took Node.js 11% fewer
 * instructions (callgrind; docs/performance.md#footprint).
 *
 * @module
 */
import * as esbuild from "esbuild";
import { parse } from "acorn";

/** Where esbuild ends a minified line: an uncaught error prints its line, which stays short. */
const LINE_LIMIT = 120;

/**
 * The files minified by esbuild (whitespace, syntax, local names), keeping what their users and the package's
 * checks rely on:
 * - the parentheses around the functions `compiledEagerly` wrote (esbuild keeps them: V8's cue to compile the
 *   function with its chunk);
 * - lines of about {@link LINE_LIMIT} characters, not one line: Node.js and Bun print the line of an uncaught error
 *   (a program's options refused at construction);
 * - the name of each function and class an entry exports (`trackCommand.name`, a class's name in `console.log`),
 *   which minifying would make a letter: set back at the end of the file that defines it. esbuild's `keepNames`
 *   would name every function, at the cost of a call for each at load (4.3 M instructions under Node.js), and
 *   bundlers could not drop the internal ones from a program's bundle;
 * - the modules bundled into each file, named on its first line (`// Bundled from: src/a.ts, src/b.ts`), as
 *   esbuild's markers (`// src/a.ts`) in the code go: a plain comment, which a program's bundler drops.
 *
 * @param files Each file as `compiledEagerly` wrote it, by name.
 * @param entries The names of the files that are the package's entries, whose exports are its API.
 * @returns The same files minified, by name.
 * @example
 * ```ts
 * import { minified } from "./minify.ts";
 * const chunk = "// src/a.ts\nvar trackCommand = (function (x) {\n  return x;\n});\nexport { trackCommand };\n";
 * const entry = 'import { trackCommand } from "./chunk.js";\nexport { trackCommand };\n';
 * (await minified(new Map([["chunk.js", chunk], ["mod.js", entry]]), ["mod.js"])).get("chunk.js");
 * // '// Bundled from: src/a.ts\nvar n=(function(r){return r});export{n as trackCommand};\n' +
 * //   'try{\nObject.defineProperty(n,"name",{value:"trackCommand"});\n}catch{}\n'
 * ```
 */
export async function minified(files: Map<string, string>, entries: string[]): Promise<Map<string, string>> {
  const small = new Map<string, string>();
  for (const [name, code] of files) {
    const result = await esbuild.transform(code, {
      minify: true,
      lineLimit: LINE_LIMIT,
      legalComments: "none",
      format: "esm",
      target: "es2022",
      logLevel: "warning",
    });
    small.set(name, result.code);
  }
  const links = new Map([...small].map(([name, code]) => [name, linksOf(code)]));
  const api = apiNames(links, entries);
  return new Map(
    [...small].map(([name, code]) => {
      const modules = new Set([...files.get(name)!.matchAll(/^\/\/ (\S+\.ts)$/gm)].map(([, path]) => path));
      const origin = modules.size > 0 ? `// Bundled from: ${[...modules].join(", ")}\n` : "";
      return [name, origin + code + namesKept(links.get(name)!, api.get(name))];
    }),
  );
}

/** How a minified file links to the others, and which of its top-level names are functions or classes. */
interface Links {
  /** What it imports, by local name: the file, and the name that file exports. */
  imports: Map<string, { file: string; name: string }>;
  /** What it exports: each exported name, and its local name. */
  exports: Map<string, string>;
  /** Its top-level functions and classes, by local name. */
  callable: Set<string>;
}

/** The {@link Links} of a minified file. */
function linksOf(code: string): Links {
  const imports = new Map<string, { file: string; name: string }>();
  const exports = new Map<string, string>();
  const callable = new Set<string>();
  const nameOf = (node: { type: string; name?: string; value?: unknown }) => node.name ?? String(node.value);
  for (const node of parse(code, { ecmaVersion: "latest", sourceType: "module" }).body) {
    if (node.type === "ImportDeclaration" && String(node.source.value).startsWith("./")) {
      for (const specifier of node.specifiers) {
        if (specifier.type !== "ImportSpecifier") continue;
        imports.set(specifier.local.name, {
          file: String(node.source.value).slice(2),
          name: nameOf(specifier.imported),
        });
      }
    } else if (node.type === "ExportNamedDeclaration" && !node.source) {
      for (const { local, exported } of node.specifiers) exports.set(nameOf(exported), nameOf(local));
    } else if ((node.type === "FunctionDeclaration" || node.type === "ClassDeclaration") && node.id) {
      callable.add(node.id.name);
    } else if (node.type === "VariableDeclaration") {
      for (const { id, init } of node.declarations) {
        const isCallable = init?.type === "FunctionExpression" || init?.type === "ArrowFunctionExpression" ||
          init?.type === "ClassExpression";
        if (id.type === "Identifier" && isCallable) callable.add(id.name);
      }
    }
  }
  return { imports, exports, callable };
}

/**
 * The names each file exports that an entry exports, followed through the files that import and export them again,
 * with the name the entry gives each: file, then its export's name, then the entry's name for it.
 */
function apiNames(links: Map<string, Links>, entries: string[]): Map<string, Map<string, string>> {
  const api = new Map<string, Map<string, string>>();
  const visit = (file: string, exported: string, name: string) => {
    const names = api.get(file) ?? new Map<string, string>();
    api.set(file, names);
    if (names.has(exported)) return;
    names.set(exported, name);
    const local = links.get(file)?.exports.get(exported);
    const imported = local === undefined ? undefined : links.get(file)?.imports.get(local);
    if (imported) visit(imported.file, imported.name, name);
  };
  for (const entry of entries) {
    for (const exported of links.get(entry)?.exports.keys() ?? []) visit(entry, exported, exported);
  }
  return api;
}

/**
 * The statements that give each function and class of the API that a file defines its name again.
 *
 * @param links The file's links.
 * @param api The file's exports that are the package's API: each export's name, and the API's name for it.
 * @returns One `Object.defineProperty` statement per such function or class, each on a line of its own, in a `try`
 *   (empty if none).
 */
function namesKept({ exports, callable }: Links, api: Map<string, string> = new Map()): string {
  const naming = [...api].flatMap(([exported, name]) => {
    const local = exports.get(exported);
    return local !== undefined && local !== name && callable.has(local)
      ? [`Object.defineProperty(${local},"name",{value:${JSON.stringify(name)}});`]
      : [];
  });
  // In a try: a name is for people, and a program that replaced Object.defineProperty must still load the package.
  return naming.length === 0 ? "" : `try{\n${naming.join("\n")}\n}catch{}\n`;
}
