import { test } from "node:test";
import assert from "node:assert/strict";
import { clearTextSecrets, isLoopback } from "../src/clear_text.ts";

test("loopback addresses: localhost, 127.0.0.0/8 and ::1, bracketed or not, any case", () => {
  const mapped = new URL("http://[::ffff:127.0.0.1]/").hostname; // "[::ffff:7f00:1]"
  for (const address of ["localhost", "LOCALHOST", "localhost.", "127.0.0.1", "127.255.0.9", "::1", "[::1]", mapped]) {
    assert.equal(isLoopback(address), true, address);
  }
  for (
    const address of ["0.0.0.0", "192.0.2.2", "localhost.example", "128.0.0.1", "::", "example.com", "[::ffff:808:808]"]
  ) {
    assert.equal(isLoopback(address), false, address);
  }
});

/** An HTTP endpoint, as the options resolve one. */
const http = (url: string) => ({ kind: "http" as const, url });

test("credentials and headers sent by http: to another machine are told; https:, loopback and nothing secret are not", () => {
  assert.equal(
    clearTextSecrets(http("http://ada:secret@192.0.2.2/e"), { "x-api-key": "k" }),
    "the URL's credentials and the headers x-api-key go unencrypted (http:) to 192.0.2.2",
  );
  assert.equal(
    clearTextSecrets(http("http://collector.example/e"), { authorization: "Bearer k" }),
    "the headers authorization go unencrypted (http:) to collector.example",
  );
  assert.equal(
    clearTextSecrets(http("http://192.0.2.2/e?api_key=K3Y"), {}),
    "the URL's query parameters go unencrypted (http:) to 192.0.2.2",
    "a query, which is printed masked as a key",
  );
  assert.equal(
    clearTextSecrets(http("http://ada:secret@192.0.2.2/e?KEY"), { "x-api-key": "k" }),
    "the URL's credentials and query parameters and the headers x-api-key go unencrypted (http:) to 192.0.2.2",
  );
  assert.equal(clearTextSecrets(http("http://127.0.0.1/e?api_key=K3Y"), {}), undefined, "loopback");
  assert.equal(clearTextSecrets(http("https://192.0.2.2/e?api_key=K3Y"), {}), undefined, "https");
  assert.equal(clearTextSecrets(http("http://collector.example/e"), {}), undefined, "nothing secret");
  assert.equal(clearTextSecrets(http("https://ada:secret@collector.example/e"), { "x-api-key": "k" }), undefined);
  assert.equal(clearTextSecrets(http("http://ada:secret@127.0.0.1:4318/e"), { "x-api-key": "k" }), undefined);
  assert.equal(clearTextSecrets(http("not a URL"), { "x-api-key": "k" }), undefined);
  assert.equal(clearTextSecrets({ kind: "stderr" }, { "x-api-key": "k" }), undefined, "no HTTP endpoint");
});
