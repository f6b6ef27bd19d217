/**
 * Whether a process this one starts, detached, outlives it. Where it would
 * not, a hand-off would leave events in a spool that goes away (a
 * container's) or wait for a sender that is killed with the program, so the
 * exit delivers in process instead.
 *
 * What is checked:
 * - Linux: this process runs in a PID namespace other than the host's (a container: `docker run`, a pod,
 *   `unshare --pid`): when the namespace's first process ends, the kernel kills every other process in it, and
 *   the container's spool usually goes with it, whether this process is that first one (`docker run mycli`) or
 *   runs under a wrapper (`timeout 60 mycli`, `sh -c`, `npm run`). The initial PID namespace is told by its
 *   fixed inode (`/proc/self/ns/pid` is `pid:[4026531836]`);
 * - Linux, where the PID namespace cannot be read (Deno short of `-A` reads nothing of `/proc`): the variables
 *   container engines set in one, `container` (Podman, systemd-nspawn, LXC, Flatpak) or `KUBERNETES_SERVICE_HOST`
 *   (a Kubernetes pod), which a wrapper does not hide as it hides the process ids below. Not Docker's
 *   `/.dockerenv`: Docker leaves it in containers that share the host's PID namespace too (`--pid=host`, as
 *   long-lived development machines are run), where senders outlive their runs;
 * - this process is PID 1 of its PID namespace (where the namespace cannot be read);
 * - its parent is PID 1 (a container init such as tini, dumb-init or docker-init, which ends with its child;
 *   systemd or launchd running the program as a service, which stop what it leaves behind);
 * - Linux: it runs in a systemd service (`INVOCATION_ID` set and its cgroup a `.service`), whose leftover
 *   processes systemd stops with it.
 *
 * macOS has no PID namespaces: the checks of the process and parent ids apply (launchd is PID 1). Windows has
 * neither PID 1 nor cgroups: nothing is checked there (a detached process leaves the console's job).
 *
 * @module
 */

/** The initial PID namespace, as `/proc/self/ns/pid` names it: its inode is fixed (`PROC_PID_INIT_INO`). */
const INITIAL_PID_NAMESPACE = "pid:[4026531836]";

/** The variables container engines set in a container: Podman, systemd-nspawn, LXC, Flatpak; Kubernetes. */
const CONTAINER_VARIABLES = ["container", "KUBERNETES_SERVICE_HOST"];

/** What the checks read about this process. */
export interface ProcessFacts {
  /** Its process id, as its own PID namespace numbers it. */
  readonly pid: number;
  /** Its parent's, `undefined` when unknown. */
  readonly ppid: number | undefined;
  /** The OS, as Node.js names it. */
  readonly os: string;
  /** Reads an environment variable (`undefined` when unset or not readable). */
  env(name: string): string | undefined;
  /** Reads a small system file (`/proc/self/cgroup`), `undefined` when absent or not readable without a prompt. */
  read(path: string): string | undefined;
  /** This process's PID namespace (Linux: the target of `/proc/self/ns/pid`), `undefined` when not known. */
  readonly pidNamespace: string | undefined;
}

/**
 * Why a detached process would not outlive this one.
 *
 * @param facts What is known about this process.
 * @returns The reason, or `undefined` when it would outlive it.
 * @example
 * ```ts
 * import { survivalProblem } from "./survival.ts";
 * const facts = { pid: 1, ppid: 0, os: "linux", env: () => undefined, read: () => undefined, pidNamespace: undefined };
 * survivalProblem(facts); // "this process is PID 1 of its PID namespace (a container's main process) ..."
 * ```
 */
export function survivalProblem(facts: ProcessFacts): string | undefined {
  if (facts.os === "win32") return undefined;
  if (facts.pidNamespace !== undefined && facts.pidNamespace !== INITIAL_PID_NAMESPACE) {
    return "it runs in a PID namespace of its own (a container): what it starts ends with the container's " +
      "first process";
  }
  if (facts.os === "linux" && facts.pidNamespace === undefined) {
    const mark = CONTAINER_VARIABLES.find((name) => facts.env(name));
    if (mark !== undefined) {
      return `the variable '${mark}' says it runs in a container, whose PID namespace it cannot read: what it ` +
        "starts would end with the container's first process";
    }
  }
  if (facts.pid === 1) {
    return "this process is PID 1 of its PID namespace (a container's main process): what it starts ends with it";
  }
  if (facts.ppid === 1) {
    return "its parent is PID 1 (a container init, or a service manager running it as a service): " +
      "what it leaves behind ends with it";
  }
  if (facts.os === "linux" && facts.env("INVOCATION_ID")) {
    // The unified hierarchy's line (`0::/system.slice/x.service`), else systemd's own (cgroup v1).
    const lines = facts.read("/proc/self/cgroup")?.split("\n");
    const line = lines?.find((each) => each.startsWith("0::")) ?? lines?.find((each) => each.includes("name=systemd:"));
    // Unreadable: as systemd set INVOCATION_ID, take it to be a service.
    const unit = lines === undefined ? ".service" : line?.trim().split("/").at(-1) ?? "";
    if (unit.endsWith(".service")) return "it runs as a systemd service, which stops what it leaves behind";
  }
  return undefined;
}
