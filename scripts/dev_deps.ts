/**
 * Installs the pinned dev dependencies (`npm ci`) when any is missing: the
 * type checks and `deno publish` need `@types/node` in `node_modules`.
 *
 * @module
 */

const root = decodeURIComponent(new URL("..", import.meta.url).pathname);

/** Runs `npm ci` in the repository unless every dev dependency is installed; throws if it fails. */
export async function ensureDevDependencies(): Promise<void> {
  const { devDependencies } = JSON.parse(await Deno.readTextFile(`${root}package.json`));
  try {
    for (const name of Object.keys(devDependencies)) await Deno.stat(`${root}node_modules/${name}/package.json`);
  } catch {
    const { success } = await new Deno.Command("npm", { args: ["ci", "--no-audit", "--no-fund"], cwd: root }).spawn()
      .status;
    if (!success) throw new Error("npm ci failed");
  }
}

// Run alone (`deno run -A scripts/dev_deps.ts`), before any script that imports a dev dependency: Deno resolves a
// script's imports before running it, so the script cannot install what it imports.
if (import.meta.main) await ensureDevDependencies();
