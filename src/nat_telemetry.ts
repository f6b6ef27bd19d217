/**
 * The `nat-telemetry` command, as the package publishes it: importing this
 * module runs it with the process's arguments and sets the exit code (see
 * {@link main} in `cli.ts` for the commands).
 *
 * ```sh
 * deno run -A jsr:@nat/telemetry/nat-telemetry status
 * ```
 *
 * A program that offers the commands to its own users imports
 * `telemetryCommand` from `@nat/telemetry/cli` instead, which runs nothing
 * when imported, bundled or not.
 *
 * @module
 */
import { main } from "./cli.ts";
import { host } from "./runtime/mod.ts";

host().setExitCode(await main(host().args()));
