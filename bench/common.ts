/**
 * What the benchmarks share: the pinned runtimes, the package built as npm
 * users get it, the peers, and medians.
 *
 * @module
 */

const decoder = new TextDecoder();
export const root: string = new URL("..", import.meta.url).pathname;
export const benchDir: string = new URL(".", import.meta.url).pathname;

/**
 * The benchmark's own arguments: `deno task bench:x -- --runs 3` passes the `--` through, so it is dropped.
 *
 * @returns `Deno.args` without a leading `--`.
 */
export function benchArgs(): string[] {
  return Deno.args[0] === "--" ? Deno.args.slice(1) : [...Deno.args];
}

/** The path of a pinned runtime's binary, fetched through npx once. */
export async function binary(spec: string): Promise<string> {
  const { stdout } = await new Deno.Command("npx", {
    args: ["-y", spec, "-e", "console.log(process.execPath)"],
  })
    .output();
  return decoder.decode(stdout).trim();
}

/** What `BINARY --version` prints first. */
export async function version(path: string): Promise<string> {
  const { stdout } = await new Deno.Command(path, { args: ["--version"] })
    .output();
  return decoder.decode(stdout).split("\n")[0].trim().replace(/^v/, "");
}

/** The runtimes, pinned as the README says, with their versions. */
export async function runtimes(): Promise<
  { deno: string; node: string; bun: string; versions: string }
> {
  const node = await binary("node@24.9.0");
  const bun = await binary("bun@1.4.5");
  const versions = `deno ${Deno.version.deno}, node ${await version(
    node,
  )}, bun ${await version(bun)}`;
  return { deno: Deno.execPath(), node, bun, versions };
}

/** Installs the peers (pinned in bench/package.json) unless they are there. */
export async function installPeers(): Promise<void> {
  try {
    await Deno.stat(`${benchDir}node_modules/posthog-node/package.json`);
    await Deno.stat(
      `${benchDir}node_modules/@segment/analytics-node/package.json`,
    );
  } catch {
    const { success } = await new Deno.Command("npm", {
      args: ["ci", "--no-audit", "--no-fund", "--prefix", benchDir],
      stdout: "null",
    }).output();
    if (!success) throw new Error("npm ci of the benchmark's peers failed");
  }
}

/**
 * Builds the package as one JavaScript file, as npm users get it from JSR (Node and Bun load it; Node's own type
 * stripping would add ~100 ms to anything in TypeScript).
 */
export async function bundle(
  bun: string,
  out: string,
  minify = false,
): Promise<string> {
  const args = [
    "build",
    `${root}mod.ts`,
    "--target=node",
    "--outfile",
    out,
    ...(minify ? ["--minify"] : []),
  ];
  const { success } = await new Deno.Command(bun, { args, stdout: "null" })
    .output();
  if (!success) throw new Error("bun build failed");
  return out;
}

/**
 * Builds the package as one JavaScript file with esbuild (the pinned dev dependency), as a CLI author's own
 * bundle of it: ES module or CommonJS (what `pkg`, `ncc` and Node's single executable applications need).
 */
export async function esbuildBundle(
  out: string,
  format: "esm" | "cjs",
): Promise<string> {
  const args = [
    `${root}mod.ts`,
    "--bundle",
    "--platform=node",
    `--format=${format}`,
    `--outfile=${out}`,
  ];
  const { success } = await new Deno.Command(
    `${root}node_modules/.bin/esbuild`,
    { args, stderr: "null" },
  ).output();
  if (!success) throw new Error("esbuild failed");
  return out;
}

/**
 * Lays the package out as JSR's npm layer serves it to Node.js and Bun, under `out`: the published JavaScript
 * (`dist/`) as it is, and each TypeScript module transpiled to its own JavaScript file (TypeScript removed,
 * `.ts` specifiers rewritten to `.js`), which the tarball also carries (they are the entries' types).
 *
 * @returns The entry of the one-file-per-module layout, `out/mod.js` (the published one is `out/dist/mod.js`).
 */
export async function npmLayout(out: string): Promise<string> {
  const esbuild = await import("esbuild");
  const sources = [
    "mod.ts",
    ...[...walk(`${root}src`)].map((path) => path.slice(root.length)),
  ];
  for (const source of sources) {
    const { code } = await esbuild.transform(
      await Deno.readTextFile(`${root}${source}`),
      {
        loader: "ts",
        format: "esm",
        target: "es2022",
      },
    );
    const target = `${out}/${source.replace(/\.ts$/, ".js")}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), {
      recursive: true,
    });
    await Deno.writeTextFile(
      target,
      code.replace(/(["'])(\.{1,2}\/[^"']+)\.ts\1/g, "$1$2.js$1"),
    );
  }
  await esbuild.stop();
  await distCopy(`${out}/dist`);
  await Deno.writeTextFile(`${out}/package.json`, '{ "type": "module" }\n');
  return `${out}/mod.js`;
}

/**
 * Copies `dist/` into `dir`, loadable by Node.js and Bun as a package of ES modules (a `package.json` beside it).
 *
 * @returns The copy's `mod.js`.
 */
export async function distCopy(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  for (const { name } of Deno.readDirSync(`${root}dist`)) {
    await Deno.copyFile(`${root}dist/${name}`, `${dir}/${name}`);
  }
  await Deno.writeTextFile(`${dir}/package.json`, '{ "type": "module" }\n');
  return `${dir}/mod.js`;
}

/**
 * Builds `dist/` as it was before the rewrite of its build that compiles functions with their chunk
 * (`scripts/build_dist.ts --lazy-into`), into `dir`, loadable by Node.js and Bun as a package of ES modules.
 *
 * @param dir Where to write it.
 * @returns Its `mod.js`.
 */
export async function baselineDist(dir: string): Promise<string> {
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}scripts/build_dist.ts`, `--lazy-into=${dir}`],
    stdout: "null",
  }).output();
  if (!success) throw new Error("the lazily compiled build of dist/ failed");
  Deno.writeTextFileSync(`${dir}/package.json`, '{ "type": "module" }\n');
  return `${dir}/mod.js`;
}

function* walk(dir: string): Generator<string> {
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (path.endsWith(".ts")) yield path;
  }
}

/** The median of some numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs a command to its end (or kills it at `capMs`), returning its wall time, output and whether it was capped. */
export async function timed(
  cmd: string[],
  env: Record<string, string> = {},
  capMs = 60_000,
): Promise<
  { ms: number; stdout: string; stderr: string; capped: boolean; code: number }
> {
  const started = performance.now();
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let capped = false;
  const timer = setTimeout(() => {
    capped = true;
    child.kill("SIGKILL");
  }, capMs);
  const { stdout, stderr, code } = await child.output();
  clearTimeout(timer);
  return {
    ms: performance.now() - started,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
    capped,
    code,
  };
}
