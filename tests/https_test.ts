/**
 * The real endpoint is HTTPS: a run delivers over TLS to a loopback server
 * with a certificate made for the test, in a child process that trusts it
 * (NODE_EXTRA_CA_CERTS for Node and Bun, DENO_CERT for Deno). Under Node this
 * exercises the light node:https client.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeCertificate } from "./helpers/certificate.ts";
import { runChild } from "./helpers/child.ts";
import { commands } from "./helpers/events.ts";
import { TestServer } from "./helpers/server.ts";
import { tempDir, tempDirForTheProcess } from "./helpers/spool_dir.ts";
import { handOffEnv, sendersGone } from "./helpers/handoff.ts";
import { waitFor } from "./helpers/wait.ts";
import { runtimeInfo } from "../src/runtime/mod.ts";

const certificate = makeCertificate(tempDirForTheProcess());

test("a run delivers over HTTPS", { skip: !certificate && "needs openssl to make a certificate" }, async () => {
  using spool = tempDir();
  const { key, cert, caPath } = certificate!;
  const server = await TestServer.start(() => ({ status: 200 }), { key, cert });
  try {
    const result = await runChild("exit_child.ts", {
      args: ["natural"],
      env: {
        NAT_TELEMETRY_ENABLED: "1",
        NAT_TELEMETRY_ENDPOINT: server.url(),
        NAT_TELEMETRY_SPOOL_DIR: spool.path,
        NAT_TEST_COMMAND: "over-tls",
        NODE_EXTRA_CA_CERTS: caPath,
        DENO_CERT: caPath,
      },
    });
    assert.deepEqual([result.code, result.stderr], [0, ""]);
    assert.match(server.url(), /^https:/);
    assert.deepEqual(commands(server.events()), ["over-tls"]);
  } finally {
    await server.close();
  }
});

test("told to skip certificate checks (NODE_TLS_REJECT_UNAUTHORIZED=0), the sender skips them as the program does", {
  skip: (!certificate && "needs openssl to make a certificate") ||
    (runtimeInfo().name === "deno" && "Deno does not read NODE_TLS_REJECT_UNAUTHORIZED"),
}, async () => {
  using spool = tempDir();
  const { key, cert } = certificate!;
  const server = await TestServer.start(() => ({ status: 200 }), { key, cert });
  try {
    const env = handOffEnv(spool.path, server.url(), "unchecked", { NODE_TLS_REJECT_UNAUTHORIZED: "0" });
    const result = await runChild("exit_child.ts", { args: ["natural"], env });
    assert.equal(result.code, 0);
    await waitFor(() => server.events().length === 1, "the sender's delivery");
    assert.deepEqual(commands(server.events()), ["unchecked"]);
    await sendersGone(spool.path);
  } finally {
    await server.close();
  }
});

test("a CA file named relative to the program's directory is found by its sender too (which runs elsewhere)", {
  skip: !certificate && "needs openssl to make a certificate",
}, async () => {
  using spool = tempDir();
  const { key, cert, caPath } = certificate!;
  const server = await TestServer.start(() => ({ status: 200 }), { key, cert });
  try {
    const caDir = caPath.slice(0, caPath.lastIndexOf("/"));
    const relative = { NODE_EXTRA_CA_CERTS: "./ca.pem", DENO_CERT: "ca.pem" };
    const env = handOffEnv(spool.path, server.url(), "relative-ca", relative);
    const result = await runChild("exit_child.ts", { args: ["natural"], env, cwd: caDir });
    assert.equal(result.code, 0, result.stderr);
    await waitFor(() => server.events().length === 1, "the sender's delivery");
    assert.deepEqual(commands(server.events()), ["relative-ca"]);
    await sendersGone(spool.path);
  } finally {
    await server.close();
  }
});

test("a redirect from https to http is never followed: the body never travels in clear", {
  skip: !certificate && "needs openssl to make a certificate",
}, async () => {
  const { key, cert, caPath } = certificate!;
  const plain = await TestServer.start();
  const secure = await TestServer.start(() => ({ status: 307, headers: { location: plain.url() } }), { key, cert });
  try {
    const result = await runChild("handler_child.ts", {
      args: ["stop", secure.url()],
      env: { NAT_TELEMETRY_ENABLED: "1", NODE_EXTRA_CA_CERTS: caPath, DENO_CERT: caPath },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(secure.requests.length, 1);
    assert.equal(plain.requests.length, 0, "nothing reached the http server");
    assert.deepEqual(JSON.parse(result.stdout).stats.dropped, { unsafe_redirect: 1 });
  } finally {
    await plain.close();
    await secure.close();
  }
});
