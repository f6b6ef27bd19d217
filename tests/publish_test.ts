/**
 * The publish task as the README runs it, in a fresh clone: a dry run never
 * uploads. The registry and the CI token service are a local server, so any
 * step towards a real publish (looking the version up, asking for a token)
 * is seen.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import { publishArgs } from "../scripts/publish.ts";
import { canRun } from "./helpers/child.ts";
import { TestServer } from "./helpers/server.ts";
import { tempDir } from "./helpers/spool_dir.ts";

const root = new URL("..", import.meta.url).pathname;
const COMMAND = "npx -y deno@2.9.6 task publish -- --dry-run";

/** Runs a command to its end, with stdin closed (nothing can be asked interactively). */
function run(
  command: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => output += chunk);
    child.stderr.on("data", (chunk) => output += chunk);
    const limit = setTimeout(() => child.kill("SIGKILL"), 240_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(limit);
      // deno-lint-ignore no-control-regex
      resolve({ code, output: output.replace(/\x1b\[[0-9;]*m/g, "") });
    });
  });
}

test("the publish script passes flags through without deno task's '--', and refuses anything else", () => {
  assert.deepEqual(publishArgs(["--", "--dry-run"]), { args: ["--dry-run"] });
  assert.deepEqual(publishArgs(["--dry-run", "--allow-dirty"]), { args: ["--dry-run", "--allow-dirty"] });
  assert.deepEqual(publishArgs(["--", "--token", "abc", "--dry-run"]), { args: ["--token", "abc", "--dry-run"] });
  assert.deepEqual(publishArgs(["--", "dry-run"]), { notAFlag: "dry-run" });
  assert.deepEqual(publishArgs([]), { args: [] });
});

test("the README's publish command, in a fresh clone, is a dry run: nothing is looked up or uploaded", {
  skip: !canRun("git", "--version") && "needs git",
  timeout: 300_000,
}, async () => {
  const documents = [
    "README.md",
    ...(existsSync(`${root}docs`) ? readdirSync(`${root}docs`) : []).map((name) => `docs/${name}`),
  ]
    .filter((path) => path.endsWith(".md"))
    .filter((path) => readFileSync(`${root}${path}`, "utf8").includes(COMMAND));
  assert.ok(documents.length > 0, `the command the docs give to publish is ${COMMAND}`);
  using dir = tempDir();
  const clone = `${dir.path}/clone`;
  execFileSync("git", ["clone", "--quiet", root, clone], { stdio: "ignore" });
  // The script as it is here (it may not be committed yet); deno publish refuses a tree with uncommitted changes.
  copyFileSync(`${root}scripts/publish.ts`, `${clone}/scripts/publish.ts`);
  execFileSync("git", ["update-index", "--assume-unchanged", "scripts/publish.ts"], { cwd: clone });
  const registry = await TestServer.start(() => ({ status: 500 }));
  try {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !/TOKEN|^DENO_AUTH|^ACTIONS_|^GITHUB_|^JSR_/.test(key)) env[key] = value;
    }
    // Every way deno publish would get a token leads here: the registry, and GitHub Actions' token service.
    Object.assign(env, {
      JSR_URL: registry.url("/"),
      GITHUB_ACTIONS: "true",
      ACTIONS_ID_TOKEN_REQUEST_URL: registry.url("/oidc"),
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: "test",
      DENO_NO_UPDATE_CHECK: "1",
    });
    const [program, ...args] = COMMAND.split(" ");
    const result = await run([program, ...args], clone, env);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /Dry run complete/, "deno publish ran as a dry run");
    assert.deepEqual(asked(registry), [], "no request to the registry or for a token: nothing could be uploaded");
    assert.ok(existsSync(`${clone}/node_modules/@types/node`), "the dev dependencies were installed in the clone");
  } finally {
    await registry.close();
  }
});

/** What the registry was asked. */
function asked(registry: TestServer): string[] {
  return registry.requests.map((request) => `${request.method} ${request.path}`);
}
