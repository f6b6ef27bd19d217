/**
 * The one test command (`deno task test`): installs the dev dependencies if
 * needed, runs the static checks (format, lint, types, doc examples, publish
 * dry run), then the whole suite under Deno, Bun and Node, and ends with one
 * line `N passed, N failed` that sums them all, after the names of the tests
 * that failed (so that a log's tail tells them). Exits non-zero if anything
 * failed. `--checks-only` stops after the static checks.
 *
 * @module
 */

import { ensureDevDependencies } from "./dev_deps.ts";

const BUN = ["npx", "-y", "bun@1.4.5"];
const NODE = ["npx", "-y", "node@24.9.0"];
const DENO = [Deno.execPath()];
const root = new URL("..", import.meta.url).pathname;

interface Tally {
  label: string;
  passed: number;
  failed: number;
  skipped: number;
  /** The failed tests' lines as the runner printed them, so that a log's tail names them. */
  failures: string[];
}

/** Runs a command in the repository, echoing its output, and returns the output and success. */
async function run(cmd: string[], env: Record<string, string> = {}): Promise<{ ok: boolean; output: string }> {
  const child = new Deno.Command(cmd[0], { args: cmd.slice(1), cwd: root, env, stdout: "piped", stderr: "piped" })
    .spawn();
  const decoder = new TextDecoder();
  let output = "";
  const pump = async (stream: ReadableStream<Uint8Array>, sink: { write(p: Uint8Array): Promise<number> }) => {
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      await sink.write(chunk);
    }
  };
  await Promise.all([pump(child.stdout, Deno.stdout), pump(child.stderr, Deno.stderr)]);
  const { success } = await child.status;
  // deno-lint-ignore no-control-regex
  return { ok: success, output: output.replace(/\x1b\[[0-9;]*m/g, "") };
}

function count(output: string, pattern: RegExp): number | undefined {
  const match = output.match(pattern);
  return match ? Number(match[1]) : undefined;
}

const tallies: Tally[] = [];

async function checks(): Promise<void> {
  const steps: [string, string[]][] = [
    ["sender script", [...DENO, "run", "-A", "scripts/build_sender.ts", "--check"]],
    ["published entries", [...DENO, "run", "-A", "scripts/build_dist.ts", "--check"]],
    ["fmt", [...DENO, "fmt", "--check"]],
    ["lint", [...DENO, "lint"]],
    ["types", [...DENO, "check", "mod.ts", "src/", "tests/", "scripts/", "examples/", "bench/"]],
    // As a project that vendors the sources checks them: with Deno's defaults, not this project's stricter options.
    ["types, Deno's default options", [...DENO, "check", "--no-config", "mod.ts", "src/"]],
    ["doc examples", [...DENO, "check", "--doc", "mod.ts", "src/"]],
    ["doc lint", [...DENO, "doc", "--lint", "mod.ts", "src/cli.ts", "src/collector.ts"]],
    ["publish dry run", [...DENO, "publish", "--dry-run", "--allow-dirty"]],
  ];
  const tally: Tally = { label: "checks", passed: 0, failed: 0, skipped: 0, failures: [] };
  for (const [name, cmd] of steps) {
    console.log(`\n== check: ${name}`);
    const { ok } = await run(cmd);
    if (ok) tally.passed++;
    else {
      tally.failed++;
      tally.failures.push(name);
      console.log(`!! check failed: ${name}`);
    }
  }
  tallies.push(tally);
}

/** How a test runner's closing summary reads. */
interface Summary {
  passed: RegExp;
  failed: RegExp[];
  skipped: RegExp;
  /** A failed test's line (global, multiline). */
  failure: RegExp;
}

async function suite(label: string, cmd: string[], summary: Summary): Promise<void> {
  console.log(`\n== tests: ${label}`);
  // Handlers in the test processes deliver in process, as in CI; handoff_test.ts asks for the hand-off itself.
  // The consent file is a fresh one of the suite's, never the developer's own (an opt-out there would stop senders).
  const consent = await Deno.makeTempDir({ prefix: "nat-telemetry-test-consent-" });
  const { ok, output } = await run(cmd, {
    NAT_TEST_RUNTIME_LABEL: label,
    NAT_TELEMETRY_HANDOFF: "0",
    NAT_TELEMETRY_CONSENT_FILE: `${consent}/telemetry.toml`,
  });
  await Deno.remove(consent, { recursive: true });
  const passed = count(output, summary.passed);
  const failed = summary.failed.reduce((sum, pattern) => sum + (count(output, pattern) ?? 0), 0);
  const skipped = count(output, summary.skipped) ?? 0;
  if (passed === undefined) console.log(`!! ${label}: no test summary found; counted as 1 failure`);
  // A runner that failed without counting a failed test (a crash, a load error) still counts as one failure.
  tallies.push({
    label,
    passed: passed ?? 0,
    failed: !ok || passed === undefined ? Math.max(1, failed) : failed,
    skipped,
    failures: [...new Set(output.match(summary.failure) ?? [])].map((line) => line.trim()),
  });
}

await ensureDevDependencies();
await checks();
if (!Deno.args.includes("--checks-only")) {
  const files = [...Deno.readDirSync(`${root}tests`)]
    .map((entry) => entry.name)
    .filter((name) => name.endsWith("_test.ts"))
    .sort()
    .map((name) => `tests/${name}`);
  await suite("deno", [...DENO, "test", "-A", "--no-check", ...files], {
    passed: /\| (\d+) passed/,
    failed: [/passed \| (\d+) failed/],
    skipped: /failed \| (\d+) ignored/,
    failure: /^.+ => \S+:\d+:\d+$/gm,
  });
  await suite("bun", [...BUN, "test", "--timeout", "60000", ...files.map((file) => `./${file}`)], {
    passed: /^\s*(\d+) pass$/m,
    failed: [/^\s*(\d+) fail$/m],
    skipped: /^\s*(\d+) skip$/m,
    failure: /^\(fail\) .+$/gm,
  });
  await suite("node", [...NODE, "--test", "--test-reporter=tap", "--test-timeout=60000", ...files], {
    passed: /^# pass (\d+)$/m,
    failed: [/^# fail (\d+)$/m, /^# cancelled (\d+)$/m],
    skipped: /^# skipped (\d+)$/m,
    failure: /^\s*not ok \d+ - .+$/gm,
  });
}

console.log("\n== summary");
for (const { label, failures } of tallies) {
  for (const failure of failures) console.log(`${label} failed: ${failure}`);
}
const total = { passed: 0, failed: 0, skipped: 0 };
for (const { label, passed, failed, skipped } of tallies) {
  console.log(`${label}: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  total.passed += passed;
  total.failed += failed;
  total.skipped += skipped;
}
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
Deno.exit(total.failed === 0 ? 0 : 1);
