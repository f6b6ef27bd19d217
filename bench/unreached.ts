/**
 * `dist/` without the code its runs never reach: the package as published,
 * each function that no run called emptied. The footprint benchmark runs it
 * beside the package as published, the most that loading "only what a run
 * needs" could save a run (#18): what a run never calls would then not be
 * loaded at all.
 *
 * Which functions ran comes from V8's coverage of runs of the copy
 * (`NODE_V8_COVERAGE` under Node.js, `DENO_COVERAGE_DIR` under Deno; Bun
 * writes none): a function it lists as never called, and not inside another
 * such, has its body emptied (`{}`), so the copy keeps its shape (every name,
 * export and class) and runs as the runs it was measured from did.
 *
 * @module
 */
import { parse } from "acorn";
import { calledByRange } from "../scripts/coverage.ts";

/** What the emptying took out. */
export interface Emptied {
  /** Functions emptied, of the functions the coverage lists. */
  functions: number;
  listed: number;
  /** Characters taken out, of the characters of the files the runs loaded. */
  chars: number;
  total: number;
}

/** A node of acorn's tree: its type, its range, its children under any key. */
interface Node {
  type: string;
  start: number;
  end: number;
  body?: Node;
  key?: Node;
  [key: string]: unknown;
}

/**
 * Empties, in place, the body of each function of the files that the coverage lists and that no run called (the
 * outermost only).
 *
 * @param coverageDir The coverage reports of runs that loaded these very files.
 * @param files The files to empty functions of (absolute paths).
 * @returns What was emptied.
 * @example
 * ```ts
 * import { emptyUnreached } from "./unreached.ts";
 * // After runs with NODE_V8_COVERAGE=/tmp/coverage that loaded /tmp/copy/chunk.js:
 * const { functions, chars } = emptyUnreached("/tmp/coverage", ["/tmp/copy/chunk.js"]);
 * ```
 */
export function emptyUnreached(coverageDir: string, files: string[]): Emptied {
  const emptied: Emptied = { functions: 0, listed: 0, chars: 0, total: 0 };
  for (const file of files) {
    const called = calledByRange(coverageDir, `file://${file}`);
    if (called.size === 0) continue; // no run loaded it
    const code = Deno.readTextFileSync(file);
    const bodies: Node[] = [];
    const visit = (node: Node, parent?: Node) => {
      if (/Function/.test(node.type) && node.body?.type === "BlockStatement") {
        // V8's range of a method starts at its name (or `static`, `async`, `get`), acorn's at its parameters.
        const ranges = [`${node.start}:${node.end}`];
        if (parent?.key) {
          ranges.push(
            `${parent.start}:${parent.end}`,
            `${parent.key.start}:${node.end}`,
          );
        }
        const listed = ranges.find((range) => called.has(range));
        if (listed !== undefined && !called.get(listed)) {
          return void bodies.push(node.body);
        }
      }
      for (const value of Object.values(node)) {
        for (const child of Array.isArray(value) ? value : [value]) {
          if (typeof (child as Node | null)?.type === "string") {
            visit(child as Node, node);
          }
        }
      }
    };
    visit(
      parse(code, {
        ecmaVersion: "latest",
        sourceType: "module",
      }) as unknown as Node,
    );
    let out = code;
    for (const body of bodies.sort((a, b) => b.start - a.start)) {
      out = `${out.slice(0, body.start)}{}${out.slice(body.end)}`;
    }
    Deno.writeTextFileSync(file, out);
    emptied.functions += bodies.length;
    emptied.listed += called.size;
    emptied.chars += code.length - out.length;
    emptied.total += code.length;
  }
  return emptied;
}
