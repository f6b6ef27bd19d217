/**
 * The entry of the sender's script. `scripts/build_sender.ts` bundles this
 * module and what it imports into one self-contained ES module,
 * `sender_script.ts` carries its text, and a program about to hand off
 * writes it into the spool directory and runs it there: whatever form the
 * program ships in (source, a bundle, a single executable), the sender runs
 * this package's code and none of the program's.
 *
 * @module
 */
import { host } from "./runtime/mod.ts";
import { runSender } from "./sender.ts";
import { parseSenderConfig, SENDER_CONFIG_ENV } from "./sender_config.ts";

const config = parseSenderConfig(host().env(SENDER_CONFIG_ENV));
if (config) await runSender(config);
