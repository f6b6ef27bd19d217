/**
 * `deno task publish [-- --dry-run]`: installs what publishing needs (the dev
 * dependencies, for their types), then runs `deno publish` with the given
 * arguments. Works from a fresh clone.
 *
 * `deno task` passes the `--` that separates its own arguments from the
 * task's on to the script (`Deno.args` is `["--", "--dry-run"]`), and
 * `deno publish` would take the flags after a `--` as no flags at all: a real
 * publish. So every `--` is dropped, and an argument that is not a flag of
 * `deno publish` stops the script before anything is published.
 *
 * @module
 */
import { ensureDevDependencies } from "./dev_deps.ts";

/**
 * The arguments for `deno publish`: those given, without the `--` separators `deno task` passes on.
 *
 * @param args The script's arguments.
 * @returns The arguments, or the one that is not a flag.
 */
export function publishArgs(args: readonly string[]): { args: string[] } | { notAFlag: string } {
  const flags = args.filter((arg) => arg !== "--");
  const notAFlag = flags.find((arg, i) => !arg.startsWith("-") && !VALUE_FLAGS.has(flags[i - 1]));
  return notAFlag === undefined ? { args: flags } : { notAFlag };
}

/** Flags of `deno publish` whose value is the next argument. */
const VALUE_FLAGS = new Set(["--token", "--config", "-c", "--set-version"]);

if (import.meta.main) {
  const parsed = publishArgs(Deno.args);
  if ("notAFlag" in parsed) {
    console.error(`publish: '${parsed.notAFlag}' is not a flag of deno publish; nothing was published.`);
    Deno.exit(2);
  }
  await ensureDevDependencies();
  const root = new URL("..", import.meta.url).pathname;
  // What is published runs from dist/ and the sender's script: never publish them stale.
  for (const build of ["scripts/build_sender.ts", "scripts/build_dist.ts"]) {
    const built = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", build, "--check"], cwd: root }).spawn()
      .status;
    if (!built.success) Deno.exit(1);
  }
  const { code } = await new Deno.Command(Deno.execPath(), { args: ["publish", ...parsed.args], cwd: root }).spawn()
    .status;
  Deno.exit(code);
}
