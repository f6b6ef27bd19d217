/**
 * Size: the bytes `deno publish` would upload (all of it, and the TypeScript
 * sources alone, and `dist/`), `mod.ts` alone bundled and minified (raw and gzipped), and the
 * installed size of posthog-node and @segment/analytics-node with their
 * dependencies. Run with `deno task bench:size`.
 *
 * @module
 */
import { benchDir, bundle, installPeers, root, runtimes } from "./common.ts";

const decoder = new TextDecoder();
await installPeers();
const { bun, versions } = await runtimes();

/** Bytes of every file under a path. */
function sizeOf(path: string): number {
  const info = Deno.statSync(path);
  if (!info.isDirectory) return info.size;
  let total = 0;
  for (const entry of Deno.readDirSync(path)) {
    total += sizeOf(`${path}/${entry.name}`);
  }
  return total;
}

async function gzipped(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return (await new Response(stream).arrayBuffer()).byteLength;
}

const dryRun = await new Deno.Command(Deno.execPath(), {
  args: ["publish", "--dry-run", "--allow-dirty"],
  cwd: root,
  env: { NO_COLOR: "1" },
}).output();
const output = decoder.decode(dryRun.stderr) + decoder.decode(dryRun.stdout);
const files = [...output.matchAll(/file:\/\/(\S+)/g)].map((match) => match[1]);
if (files.length === 0) {
  throw new Error(`no files in the publish dry run:\n${output}`);
}
const sources = files.filter((file) => file.endsWith(".ts"));
const bundled = files.filter((file) => file.includes("/dist/"));

const work = await Deno.makeTempDir({ prefix: "nat-telemetry-bench-" });
const minified = Deno.readFileSync(
  await bundle(bun, `${work}/mod.min.js`, true),
);

const kb = (bytes: number) => (bytes / 1024).toFixed(1);
console.log(`\n### Size\n\n${versions}.\n`);
console.log("| what | KB |");
console.log("| --- | ---: |");
console.log(
  `| @nat/telemetry as published (${files.length} files: sources, dist/, docs, README, LICENSE, deno.json) | ${
    kb(files.reduce((sum, file) => sum + sizeOf(file), 0))
  } |`,
);
console.log(
  `| its TypeScript sources (${sources.length} files) | ${kb(sources.reduce((sum, f) => sum + sizeOf(f), 0))} |`,
);
console.log(
  `| its entries as published, bundled and minified (dist/, ${bundled.length} files) | ${
    kb(bundled.reduce((sum, f) => sum + sizeOf(f), 0))
  } |`,
);
console.log(
  `| mod.ts alone, in one file, minified (bun build --minify) | ${kb(minified.byteLength)} |`,
);
console.log(
  `| the same, gzipped | ${kb(await gzipped(minified))} |`,
);
const tree = JSON.parse(
  decoder.decode(
    (await new Deno.Command("npm", {
      args: ["ls", "--all", "--json", "--prefix", benchDir],
    }).output()).stdout,
  ),
);
/** A package and its dependencies, by name (npm hoists them into one node_modules). */
function closure(
  name: string,
  node: { dependencies?: Record<string, unknown> },
  found = new Set<string>(),
) {
  found.add(name);
  for (const [dependency, child] of Object.entries(node.dependencies ?? {})) {
    if (!found.has(dependency)) {
      closure(dependency, child as typeof node, found);
    }
  }
  return found;
}
for (const peer of ["posthog-node", "@segment/analytics-node"]) {
  const names = [...closure(peer, tree.dependencies[peer])];
  const installed = names.map((name) => `${benchDir}node_modules/${name}`)
    .filter((dir) => {
      try {
        return Deno.statSync(dir).isDirectory;
      } catch {
        return false; // an optional dependency that is not installed
      }
    });
  console.log(
    `| ${peer} ${tree.dependencies[peer].version} installed, with its ${installed.length - 1} dependencies | ${
      kb(installed.reduce((sum, dir) => sum + sizeOf(dir), 0))
    } |`,
  );
}
await Deno.remove(work, { recursive: true });
