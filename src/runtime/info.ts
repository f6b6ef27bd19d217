/**
 * Which JavaScript runtime is running us, read once from its globals.
 *
 * This file and its siblings in `src/runtime/` are the only places that touch
 * `Deno.*`, `process` or `Bun.*`.
 *
 * @module
 */

/** The runtimes we know how to talk to. */
export type RuntimeName = "deno" | "node" | "bun" | "unknown";

/** What the runtime says about itself and the machine. */
export interface RuntimeInfo {
  /** The runtime's name. */
  readonly name: RuntimeName;
  /** The runtime's version, without a leading "v" ("" when unknown). */
  readonly version: string;
  /** The CPU architecture as Python's `platform.machine()` spells it, e.g. `x86_64`. */
  readonly machine: string;
  /** The operating system as Node.js names it: `linux`, `darwin`, `win32`... ("" when unknown). */
  readonly os: string;
}

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/**
 * Describes the current runtime: name, version and CPU architecture.
 *
 * @returns The runtime's description; `{ name: "unknown", version: "", machine: "undefined", os: "" }` elsewhere.
 * @example
 * ```ts
 * import { runtimeInfo } from "./info.ts";
 * console.log(runtimeInfo().name); // "deno", "node" or "bun"
 * ```
 */
export function runtimeInfo(): RuntimeInfo {
  return cached ??= detect();
}

let cached: RuntimeInfo | undefined;

function detect(): RuntimeInfo {
  if (typeof g.Deno?.version?.deno === "string") {
    const os = g.Deno.build.os === "windows" ? "win32" : g.Deno.build.os;
    return { name: "deno", version: g.Deno.version.deno, machine: pythonMachineName(os, g.Deno.build.arch), os };
  }
  const versions = g.process?.versions;
  if (typeof versions?.node === "string") {
    const name = typeof versions.bun === "string" ? "bun" : "node";
    const { platform, arch } = g.process;
    return { name, version: versions[name], machine: pythonMachineName(platform, arch), os: platform };
  }
  return { name: "unknown", version: "", machine: "undefined", os: "" };
}

/**
 * The program as its runtime names it: its main module (Deno), its script (Node.js, Bun), or, for a Bun executable
 * (whose script is in its own virtual file system), the executable. What tells one program apart from another on a
 * machine where nothing else does.
 *
 * @returns E.g. `file:///usr/local/lib/mycli/cli.ts`, `/usr/lib/node_modules/mycli/cli.js`; `""` when unknown.
 * @example
 * ```ts
 * import { programEntry } from "./info.ts";
 * programEntry(); // e.g. "/usr/lib/node_modules/mycli/cli.js"
 * ```
 */
export function programEntry(): string {
  try {
    if (runtimeInfo().name === "deno") return String(g.Deno.mainModule ?? "");
    const script = g.process?.argv?.[1];
    if (typeof script !== "string") return "";
    return script.startsWith("/$bunfs/") || script.startsWith("B:/~BUN/") ? String(g.process.execPath) : script;
  } catch {
    return "";
  }
}

/**
 * Spells an OS and architecture the way Python's `platform.machine()` does
 * (`uname -m` on POSIX), so the envelope's `cpuArchitecture` matches what the
 * Python client sends from the same machine.
 *
 * @param os The OS as Node (`linux`, `darwin`, `win32`, `freebsd`...) or Deno (`windows`) names it.
 * @param arch The architecture as Node (`x64`, `arm64`, `ppc64`, `loong64`...) or Deno (`x86_64`, `aarch64`) names it.
 * @returns The Python spelling, e.g. `x86_64`, `aarch64`, `ppc64le`, `s390x`, `riscv64`, `loongarch64`,
 *   `armv7l` (Linux), `arm64` (macOS), `amd64` (FreeBSD), `AMD64` (Windows).
 * @example
 * ```ts
 * import { pythonMachineName } from "./info.ts";
 * pythonMachineName("linux", "x64"); // "x86_64"
 * pythonMachineName("linux", "ppc64"); // "ppc64le"
 * ```
 */
export function pythonMachineName(os: string, arch: string): string {
  const normalized = NORMALIZED_ARCH[arch] ?? arch;
  const names = os === "win32" || os === "windows"
    ? WINDOWS_MACHINES
    : os === "darwin"
    ? DARWIN_MACHINES
    : os.endsWith("bsd")
    ? BSD_MACHINES
    : LINUX_MACHINES;
  return names[normalized] ?? normalized;
}

/** Deno's (and Rust's) names for what Node calls x64, arm64 and riscv64. */
const NORMALIZED_ARCH: Record<string, string> = { x86_64: "x64", aarch64: "arm64", riscv64gc: "riscv64" };
/** `uname -m` on Linux; Node reports little-endian POWER (the only one it runs on Linux) as ppc64. */
const LINUX_MACHINES: Record<string, string> = {
  x64: "x86_64",
  arm64: "aarch64",
  ia32: "i686",
  arm: "armv7l",
  ppc64: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loongarch64",
  mipsel: "mips",
  mips64el: "mips64",
};
const DARWIN_MACHINES: Record<string, string> = { x64: "x86_64", arm64: "arm64" };
const BSD_MACHINES: Record<string, string> = { x64: "amd64", arm64: "arm64", ia32: "i386" };
const WINDOWS_MACHINES: Record<string, string> = { x64: "AMD64", arm64: "ARM64", ia32: "x86" };
