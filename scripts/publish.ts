/**
 * `deno task publish [-- --dry-run]`: installs what publishing needs (the dev
 * dependencies, for their types), then runs `deno publish` with the given
 * arguments. Works from a fresh clone.
 *
 * @module
 */
import { ensureDevDependencies } from "./dev_deps.ts";

await ensureDevDependencies();
const root = new URL("..", import.meta.url).pathname;
const { code } = await new Deno.Command(Deno.execPath(), { args: ["publish", ...Deno.args], cwd: root }).spawn().status;
Deno.exit(code);
