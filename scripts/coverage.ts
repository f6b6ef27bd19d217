/**
 * Reading V8's coverage reports: which functions of a file the runs that wrote them called. `run_path.ts` lists
 * from them the functions a CLI's run calls; the footprint benchmark's `unreached.ts` empties the others.
 *
 * @module
 */

/** The range of one function in a V8 coverage report, and how many times it ran. */
interface FunctionCoverage {
  ranges: { startOffset: number; endOffset: number; count: number }[];
}

/**
 * The functions V8's coverage reports list for a file, by range (`start:end`): whether any run called each.
 *
 * @param coverageDir Where the runs wrote their reports (each a JSON file of `{ result: [{ url, functions }] }`, as
 *   `NODE_V8_COVERAGE` has Node.js write them; Deno's, under `DENO_COVERAGE_DIR`, one `{ url, functions }` per file).
 * @param url The file's URL, as the reports name it.
 * @returns Each listed function's range, and whether a run called it.
 * @example
 * ```ts
 * import { calledByRange } from "./coverage.ts";
 * // After runs with NODE_V8_COVERAGE=/tmp/coverage that loaded /tmp/copy/chunk.js:
 * const called = calledByRange("/tmp/coverage", "file:///tmp/copy/chunk.js"); // Map { "0:120" => true, ... }
 * ```
 */
export function calledByRange(coverageDir: string, url: string): Map<string, boolean> {
  const called = new Map<string, boolean>();
  for (const { name } of Deno.readDirSync(coverageDir)) {
    if (!name.endsWith(".json")) continue;
    const report = JSON.parse(Deno.readTextFileSync(`${coverageDir}/${name}`));
    const scripts: { url: string; functions: FunctionCoverage[] }[] = report.result ?? [report];
    for (const script of scripts.filter((script) => script.url === url)) {
      for (const { ranges: [range] } of script.functions) {
        const key = `${range.startOffset}:${range.endOffset}`;
        called.set(key, (called.get(key) ?? false) || range.count > 0);
      }
    }
  }
  return called;
}
