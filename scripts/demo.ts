/**
 * The demo (`deno task demo`): starts a loopback ingest endpoint, runs
 * `examples/cli.ts` under Deno, Node and Bun against it, then once against an
 * endpoint that accepts connections but never answers, and shows what arrived
 * and how long each run took. Nothing leaves the machine.
 *
 * @module
 */

const example = new URL("../examples/cli.ts", import.meta.url).pathname;

/** The path of a pinned runtime's binary, fetched through npx once. */
async function binary(spec: string): Promise<string> {
  const { stdout } = await new Deno.Command("npx", { args: ["-y", spec, "-e", "console.log(process.execPath)"] })
    .output();
  return new TextDecoder().decode(stdout).trim();
}

const received: { runtime: string; command: string; taskStatus: string; exitCode: number }[] = [];
const endpoint = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
  const envelope = await request.json();
  for (const event of envelope.events) {
    const { command, taskStatus, exitCode, pythonVersion } = event.parameters;
    received.push({ runtime: pythonVersion, command, taskStatus, exitCode });
  }
  return new Response(null, { status: 204 });
});
// A server that accepts connections and never answers: the worst case for an exit.
const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const held: Deno.Conn[] = [];
(async () => {
  for await (const conn of silent) held.push(conn);
})();

const runtimes: [string, string[]][] = [
  ["deno 2.9.6", [Deno.execPath(), "run", "-A", example]],
  ["node 24.9.0", [await binary("node@24.9.0"), example]],
  ["bun 1.4.5", [await binary("bun@1.4.5"), example]],
];

async function run(label: string, cmd: string[], args: string[], url: string) {
  const started = performance.now();
  const { code } = await new Deno.Command(cmd[0], {
    args: [...cmd.slice(1), ...args],
    env: { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: url },
    stdout: "null",
    stderr: "null",
  }).output();
  const ms = performance.now() - started;
  console.log(`| ${label} | \`${args.join(" ")}\` | ${code} | ${ms.toFixed(0)} ms |`);
}

const healthy = `http://127.0.0.1:${endpoint.addr.port}/v1.1/events/json`;
const hanging = `http://127.0.0.1:${(silent.addr as Deno.NetAddr).port}/v1.1/events/json`;
console.log(`Endpoint: ${healthy}\n`);
console.log("| runtime | command | exit code | wall time |\n| --- | --- | --- | --- |");
for (const [label, cmd] of runtimes) {
  await run(label, cmd, ["greet", "demo"], healthy);
  await run(label, cmd, ["fail"], healthy);
}
for (const [label, cmd] of runtimes) await run(`${label}, silent endpoint`, cmd, ["greet"], hanging);

console.log("\nEvents the endpoint received:\n");
console.log("| runtime | command | taskStatus | exitCode |\n| --- | --- | --- | --- |");
for (const e of received) console.log(`| ${e.runtime} | ${e.command} | ${e.taskStatus} | ${e.exitCode} |`);
console.log(
  "\nAgainst the silent endpoint each run waits at most the 2 s exit budget; the event stays pending" +
    " (a later release spools it to disk for the next run).",
);

for (const conn of held) conn.close();
silent.close();
await endpoint.shutdown();
