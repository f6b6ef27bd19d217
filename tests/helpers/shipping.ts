/**
 * The forms a CLI is shipped in, built for real from `tests/fixtures/shipped/cli.ts`
 * with the pinned tools (esbuild and ncc from the dev dependencies, `bun build`,
 * Node's single executable applications with postject).
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, writeFileSync } from "node:fs";
import process from "node:process";
import { canRun, fixturePath } from "./child.ts";
import { runtimeInfo } from "../../src/runtime/mod.ts";
import { tempDirForTheProcess } from "./spool_dir.ts";

/** A shipped form of the CLI: how to run it. */
export interface ShippedForm {
  readonly label: string;
  readonly argv: readonly string[];
  /** Whether its exit can hand off (a single executable that runs only its program cannot). */
  readonly handsOff: boolean;
}

const root = new URL("../..", import.meta.url).pathname;
const entry = fixturePath("shipped/cli.ts");
const BUN = ["npx", "-y", "bun@1.4.5"];
/** The fuse Node's single executable applications are injected under. */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

function run(argv: readonly string[], cwd = root): void {
  execFileSync(argv[0], argv.slice(1), { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function esbuild(format: "esm" | "cjs", out: string, ...flags: string[]): void {
  run([
    `${root}node_modules/.bin/esbuild`,
    entry,
    "--bundle",
    "--platform=node",
    `--format=${format}`,
    `--outfile=${out}`,
    ...flags,
  ]);
}

/**
 * The CLI in CommonJS bundled by ncc, in a `"type": "module"` package, as many CLIs are: ncc, like webpack, keeps
 * what a package imports lazily in files of its own, and names them `.js`, which Node.js reads there as modules.
 *
 * @returns The bundle's entry.
 */
function ncc(dir: string): string {
  // The repository's layout, so that the CLI's import of `dist/mod.js`, left to ncc, finds the package.
  const tree = `${dir}/ncc-input`;
  cpSync(`${root}dist`, `${tree}/dist`, { recursive: true });
  const program = `${tree}/tests/fixtures/shipped/cli.cjs`;
  esbuild("cjs", program, "--external:../../../dist/mod.js");
  run([`${root}node_modules/.bin/ncc`, "build", program, "--out", `${dir}/ncc`, "--no-cache", "--quiet"]);
  writeFileSync(`${dir}/ncc/package.json`, '{ "type": "module" }\n');
  return `${dir}/ncc/index.cjs`;
}

/** A Node.js single executable application of a CommonJS bundle (Node.js only: it copies `node` itself). */
function singleExecutable(dir: string, bundle: string, name: string): string {
  const config = `${dir}/${name}.json`;
  const blob = `${dir}/${name}.blob`;
  writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true }));
  run([process.execPath, "--experimental-sea-config", config], dir);
  const executable = `${dir}/${name}`;
  copyFileSync(process.execPath, executable);
  run([`${root}node_modules/.bin/postject`, executable, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE], dir);
  return executable;
}

/**
 * Builds the forms the current runtime runs: Deno runs the source; Node.js the source, esbuild ESM and CJS
 * bundles, a `bun build --target=node` bundle, an ncc bundle and single executable applications of the esbuild and
 * ncc bundles; Bun the source and `bun build --compile` executables, with and without `--bytecode`.
 *
 * @returns The forms, built in a fresh temporary directory.
 */
export function buildShippedForms(): ShippedForm[] {
  const dir = tempDirForTheProcess("nat-telemetry-shipped-");
  switch (runtimeInfo().name) {
    case "deno":
      return [{ label: "deno source", argv: [process.execPath, "run", "-A", entry], handsOff: true }];
    case "bun": {
      const executable = `${dir}/cli-exe`;
      run([process.execPath, "build", "--compile", entry, "--outfile", executable]);
      // Compiled to bytecode ahead of time: the form docs/performance.md recommends for the smallest footprint.
      const bytecode = `${dir}/cli-exe-bytecode`;
      run([process.execPath, "build", "--compile", "--bytecode", "--format=esm", entry, "--outfile", bytecode]);
      return [
        { label: "bun source", argv: [process.execPath, entry], handsOff: true },
        { label: "bun build --compile executable", argv: [executable], handsOff: true },
        { label: "bun build --compile --bytecode executable", argv: [bytecode], handsOff: true },
      ];
    }
    default: {
      esbuild("esm", `${dir}/cli.mjs`);
      esbuild("cjs", `${dir}/cli.cjs`);
      run([...BUN, "build", entry, "--target=node", "--outfile", `${dir}/cli-bun.mjs`]);
      const nccBundle = ncc(dir);
      return [
        { label: "node source", argv: [process.execPath, entry], handsOff: true },
        { label: "esbuild ESM bundle (node)", argv: [process.execPath, `${dir}/cli.mjs`], handsOff: true },
        { label: "esbuild CJS bundle (node)", argv: [process.execPath, `${dir}/cli.cjs`], handsOff: true },
        {
          label: "bun build --target=node bundle (node)",
          argv: [process.execPath, `${dir}/cli-bun.mjs`],
          handsOff: true,
        },
        {
          label: 'ncc bundle in a "type": "module" package (node)',
          argv: [process.execPath, nccBundle],
          handsOff: true,
        },
        {
          label: "Node.js single executable application",
          argv: [singleExecutable(dir, `${dir}/cli.cjs`, "cli-sea")],
          handsOff: false,
        },
        {
          label: "Node.js single executable application of the ncc bundle",
          argv: [singleExecutable(dir, nccBundle, "cli-sea-ncc")],
          handsOff: false,
        },
      ];
    }
  }
}

/** Whether a process can be made PID 1 of a new PID namespace here (root, and a kernel that lets it). */
export const canUnshare: boolean = process.platform === "linux" &&
  canRun("unshare", "--pid", "--fork", "--mount-proc", "true");
