/**
 * Runs that hand off at exit, and the senders they start: the environment of
 * such a run, the sender processes alive (Linux: their environment says so),
 * and a bounded wait for their end.
 *
 * @module
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import process from "node:process";
import { senderLocks } from "./spool_dir.ts";
import { waitFor } from "./wait.ts";

/**
 * Whether the tests run in a container (Linux: a PID namespace other than the host's): there, a run's exit
 * delivers in process, as no sender would outlive the container's main process.
 */
export const inContainer: boolean = process.platform === "linux" &&
  (() => {
    try {
      return readlinkSync("/proc/self/ns/pid") !== "pid:[4026531836]";
    } catch {
      return false;
    }
  })();

/**
 * The environment of a run that hands off, as a user's would: telemetry on, an endpoint, a spool, the exit
 * hand-off asked for (whatever `CI` says).
 *
 * @param dir The spool directory.
 * @param endpoint The endpoint.
 * @param command The command the exit fixture records (`NAT_TEST_COMMAND`).
 * @param extra More variables.
 */
export function handOffEnv(dir: string, endpoint: string, command: string, extra: Record<string, string> = {}) {
  return {
    NAT_TELEMETRY_ENABLED: "1",
    NAT_TELEMETRY_ENDPOINT: endpoint,
    NAT_TELEMETRY_SPOOL_DIR: dir,
    NAT_TELEMETRY_HANDOFF: "1",
    NAT_TEST_COMMAND: command,
    ...extra,
  };
}

/**
 * The processes started as senders whose configuration contains `marker` (a test's own spool directory).
 *
 * @param marker Text their sender configuration contains. @default {"": every sender}
 * @returns Their process ids.
 */
export function senderProcesses(marker = ""): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "latin1");
      if (environ.includes("NAT_TELEMETRY_SENDER=") && environ.includes(marker)) pids.push(Number(pid));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

/**
 * Waits until no sender works on a spool: no lock left, and (Linux) no sender process of it alive.
 *
 * @param dir The spool directory.
 */
export async function sendersGone(dir: string): Promise<void> {
  const alive = () => senderLocks(dir).length > 0 || (process.platform === "linux" && senderProcesses(dir).length > 0);
  await waitFor(() => !alive(), "the senders' end", 20_000);
}
