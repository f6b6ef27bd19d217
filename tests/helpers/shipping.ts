/**
 * The forms a CLI is shipped in, built for real from `tests/fixtures/shipped/cli.ts`
 * with the pinned tools (esbuild from the dev dependencies, `bun build`,
 * Node's single executable applications with postject).
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
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

function esbuild(format: "esm" | "cjs", out: string): void {
  run([
    `${root}node_modules/.bin/esbuild`,
    entry,
    "--bundle",
    "--platform=node",
    `--format=${format}`,
    `--outfile=${out}`,
  ]);
}

/** A Node.js single executable application of the CommonJS bundle (Node.js only: it copies `node` itself). */
function singleExecutable(dir: string, bundle: string): string {
  const config = `${dir}/sea.json`;
  const blob = `${dir}/sea.blob`;
  writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true }));
  run([process.execPath, "--experimental-sea-config", config], dir);
  const executable = `${dir}/cli-sea`;
  copyFileSync(process.execPath, executable);
  run([`${root}node_modules/.bin/postject`, executable, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE], dir);
  return executable;
}

/**
 * Builds the forms the current runtime runs: Deno runs the source; Node.js the source, esbuild ESM and CJS
 * bundles, a `bun build --target=node` bundle and a single executable application; Bun the source and
 * `bun build --compile` executables, with and without `--bytecode`.
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
          label: "Node.js single executable application",
          argv: [singleExecutable(dir, `${dir}/cli.cjs`)],
          handsOff: false,
        },
      ];
    }
  }
}

/** Whether a process can be made PID 1 of a new PID namespace here (root, and a kernel that lets it). */
export const canUnshare: boolean = process.platform === "linux" &&
  canRun("unshare", "--pid", "--fork", "--mount-proc", "true");
