/**
 * Picks the {@link Host} for the runtime we run on.
 *
 * @module
 */
import { denoHost } from "./deno.ts";
import { type Fetch, type Host, quietly } from "./host.ts";
import { nodeHost } from "./node.ts";
import { runtimeInfo } from "./info.ts";

export type {
  ExitHooks,
  Fetch,
  FetchResponse,
  Host,
  HostFiles,
  HostTerminal,
  InterruptSignal,
  LocalServer,
  SenderGrant,
  ServedAnswer,
  ServedRequest,
  SpawnCommand,
  SpawnResult,
} from "./host.ts";
export { programEntry, runtimeInfo } from "./info.ts";
export { hiddenBecause, RequestNotBuilt, SIGNAL_EXIT_STATUS } from "./host.ts";
export type { RuntimeInfo, RuntimeName } from "./info.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** Used where there is no runtime at all (a browser, a worker): nothing to read, nowhere to write. */
const noHost: Host = {
  env: () => undefined,
  writeStderr: () => {},
  unrefTimer: () => {},
  monotonicMs: () => performance.now(),
  canConnect: () => true,
  sendsProxyCredentials: () => false,
  fetch: undefined,
  terminal: () => undefined,
  files: undefined,
  senderCommand: () => ({ refused: "no runtime to start a process with" }),
  senderRefusal: () => "no runtime to start a process with",
  spawnDetached: () => "failed",
  exit: () => {},
  signalSelf: () => false,
  serve: () => Promise.reject(new Error("no HTTP server in this runtime")),
  args: () => [],
  writeStdout: () => {},
  stdoutIsTerminal: () => false,
  setExitCode: () => {},
  exitCode: () => undefined,
  exiting: () => false,
  onExit: () => () => {},
  onInterrupt: () => () => {},
};

let cached: Host | undefined;

/**
 * The runtime's own fetch: Bun's `Bun.fetch`, which a program that replaces `globalThis.fetch` (an interceptor
 * adding its own credentials to its requests, a preload's instrumentation) leaves in place; Deno's, as it was when
 * the package loaded (a program that replaced it before, in a preload or a module loaded first, is not told apart).
 * Not Node.js's, which loads undici at its first touch: its host has a client of its own. Only a function: a
 * program that put something else in the global's place before (or a getter that throws) is not the package's to
 * fail (the global is looked up at delivery time instead, and its failure counted there).
 */
const fetchAtLoad: Fetch | undefined = [quietly(() => g.Bun?.fetch), g.Deno ? quietly(() => g.fetch) : undefined]
  .find((each) => typeof each === "function");

/**
 * The host for the current runtime, built once.
 *
 * @returns The Deno host, the Node/Bun host, or a host that does nothing.
 * @example
 * ```ts
 * import { host } from "./mod.ts";
 * host().env("NAT_TELEMETRY_ENABLED");
 * ```
 */
export function host(): Host {
  if (cached) return cached;
  const name = runtimeInfo().name;
  cached = name === "deno" ? denoHost(g.Deno, fetchAtLoad) : name === "unknown" ? noHost : nodeHost(g.process, {
    lightFetch: name === "node",
    fetchAtLoad,
    bunSpawn: name === "bun" ? g.Bun?.spawn : undefined,
  });
  return cached;
}
