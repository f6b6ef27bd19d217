/**
 * Behind a proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), events still arrive: the
 * proxy settings as pure functions; the Node.js client (node_fetch.ts) through
 * a real forward proxy, in every runtime; and runs in child processes whose
 * endpoint's host does not resolve (`telemetry.invalid`), so an event can only
 * arrive through the proxy. Under Node a run delivers with node_fetch.ts; Deno
 * and Bun honour proxies natively, which the same tests check.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { deliver } from "../src/delivery.ts";
import { withoutThrown } from "./helpers/events.ts";
import { type FetchResponse, RequestNotBuilt, runtimeInfo } from "../src/runtime/mod.ts";
import { nodeFetch } from "../src/runtime/node_fetch.ts";
import { noProxyEntries, parseProxy, PASSWORD_CUT_SHORT, proxyRoute } from "../src/runtime/proxy_settings.ts";
import { type ProxyReport, proxyReport } from "../src/runtime/proxy_report.ts";
import { denoGoesAround, denoProxyRoute, denoSendsProxyCredentials } from "../src/runtime/deno_proxy.ts";
import { makeCertificate } from "./helpers/certificate.ts";
import { type ChildResult, runChild, UNSET_PROXY_VARIABLES } from "./helpers/child.ts";
import { sendersGone } from "./helpers/handoff.ts";
import { TestProxy } from "./helpers/proxy.ts";
import { TestServer } from "./helpers/server.ts";
import { forgetHealth, spooled, tempDir, tempDirForTheProcess } from "./helpers/spool_dir.ts";
import { waitFor } from "./helpers/wait.ts";

/** The host of every proxied endpoint: `.invalid` never resolves, so only a proxy can reach it. */
const UNRESOLVABLE = "telemetry.invalid";
/** Another host the test certificate names, reached through the proxy too: another origin. */
const ELSEWHERE = "elsewhere.telemetry.invalid";

const runtime = runtimeInfo().name;

/** A reader of the environment given as a record. */
const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

/** Whether a `NO_PROXY` list names the URL's host. */
const bypassesProxy = (url: URL, list: string) => noProxyEntries(url, list).length > 0;

describe("proxy settings", () => {
  const route = (url: string, vars: Record<string, string>) => {
    const chosen = proxyRoute(new URL(url), envOf(vars));
    return chosen.kind === "proxy" ? `${chosen.proxy.hostname}:${chosen.proxy.port}` : chosen.kind;
  };

  it("https URLs take HTTPS_PROXY, http URLs HTTP_PROXY, never the other's", () => {
    const vars = { HTTPS_PROXY: "http://secure:1", HTTP_PROXY: "http://plain:2" };
    assert.equal(route("https://api.example/", vars), "secure:1");
    assert.equal(route("http://api.example/", vars), "plain:2");
    assert.equal(route("https://api.example/", { HTTP_PROXY: "http://plain:2" }), "direct");
    assert.equal(route("http://api.example/", { HTTPS_PROXY: "http://secure:1" }), "direct");
    assert.equal(route("https://api.example/", {}), "direct");
  });

  it("the lowercase spelling wins over the uppercase one (as Bun and curl); an empty value counts as unset", () => {
    assert.equal(
      route("http://api.example/", { HTTP_PROXY: "http://upper:1", http_proxy: "http://lower:2" }),
      "lower:2",
    );
    assert.equal(
      route("https://api.example/", { HTTPS_PROXY: "http://upper:1", https_proxy: "http://lower:2" }),
      "lower:2",
    );
    assert.equal(route("http://api.example/", { HTTP_PROXY: "http://upper:1", http_proxy: "" }), "upper:1");
    assert.equal(route("http://api.example/", { HTTP_PROXY: "  " }), "direct");
    const both = { HTTP_PROXY: "http://p:1", NO_PROXY: "other.example", no_proxy: "api.example" };
    assert.equal(route("http://api.example/", both), "direct", "no_proxy wins");
    assert.equal(route("http://api.example/", { ...both, no_proxy: "" }), "p:1", "an empty no_proxy is unset");
  });

  it("ALL_PROXY (either spelling) serves both schemes where the scheme's own variable is unset", () => {
    assert.equal(route("https://api.example/", { ALL_PROXY: "http://all:1" }), "all:1");
    assert.equal(route("http://api.example/", { all_proxy: "http://all:1" }), "all:1");
    assert.equal(route("https://api.example/", { ALL_PROXY: "http://all:1", HTTPS_PROXY: "http://own:2" }), "own:2");
    assert.equal(route("https://api.example/", { ALL_PROXY: "http://all:1", NO_PROXY: "api.example" }), "direct");
  });

  it("HTTP_PROXY is ignored in a CGI program (REQUEST_METHOD set), where a request's Proxy: header sets it", () => {
    assert.equal(route("http://api.example/", { HTTP_PROXY: "http://p:1", REQUEST_METHOD: "GET" }), "direct");
    assert.equal(
      route("http://api.example/", { HTTP_PROXY: "http://p:1", REQUEST_METHOD: "" }),
      "direct",
      "even empty",
    );
    assert.equal(route("http://api.example/", { http_proxy: "http://p:1", REQUEST_METHOD: "GET" }), "p:1");
    assert.equal(route("https://api.example/", { HTTPS_PROXY: "http://p:1", REQUEST_METHOD: "GET" }), "p:1");
  });

  it("loopback is proxied like any other host unless NO_PROXY names it (as Deno and Bun do)", () => {
    for (const url of ["http://127.0.0.1:8080/", "http://localhost:8080/", "http://[::1]:8080/"]) {
      assert.equal(route(url, { HTTP_PROXY: "http://p:1" }), "p:1", url);
    }
  });

  it("NO_PROXY: a name matches itself and its subdomains, with or without a leading dot or *.", () => {
    for (const entry of ["example.com", ".example.com", "*.example.com", "EXAMPLE.com", "example.com."]) {
      assert.ok(bypassesProxy(new URL("https://api.example.com/"), entry), entry);
      assert.ok(bypassesProxy(new URL("https://example.com/"), entry), entry);
      assert.ok(!bypassesProxy(new URL("https://notexample.com/"), entry), entry);
      assert.ok(!bypassesProxy(new URL("https://example.com.evil/"), entry), entry);
    }
    assert.ok(bypassesProxy(new URL("https://api.example.com./"), "api.example.com"), "a trailing dot in the URL");
    assert.ok(!bypassesProxy(new URL("https://example.com/"), "api.example.com"), "not the parent");
    assert.ok(bypassesProxy(new URL("https://a.b/"), " x.y , ,a.b "), "blanks and empty entries");
    assert.ok(!bypassesProxy(new URL("http://127.0.0.1/"), "localhost"), "no name resolution");
    assert.ok(!bypassesProxy(new URL("http://localhost/"), "127.0.0.1"), "no name resolution");
  });

  it("NO_PROXY: * matches every host, names and addresses", () => {
    for (const url of ["https://api.example.com/", "http://127.0.0.1:9/", "http://[::1]/"]) {
      assert.ok(bypassesProxy(new URL(url), "*"), url);
      assert.ok(bypassesProxy(new URL(url), "a.b, *"), url);
    }
  });

  it("NO_PROXY: IP literals match exactly, CIDR blocks every address in them", () => {
    assert.ok(bypassesProxy(new URL("http://127.0.0.1/"), "127.0.0.1"));
    assert.ok(!bypassesProxy(new URL("http://127.0.0.2/"), "127.0.0.1"));
    assert.ok(!bypassesProxy(new URL("http://127.0.0.1/"), "127.0.0"), "not a prefix of the text");
    assert.ok(bypassesProxy(new URL("http://[::1]/"), "::1"));
    assert.ok(bypassesProxy(new URL("http://[::1]/"), "[::1]"));
    assert.ok(bypassesProxy(new URL("http://[0:0::1]/"), "0::0:1"), "IPv6 compared as addresses");
    assert.ok(!bypassesProxy(new URL("http://[::2]/"), "::1"));
    assert.ok(bypassesProxy(new URL("http://10.1.2.3/"), "10.0.0.0/8"));
    assert.ok(bypassesProxy(new URL("http://192.168.1.77/"), "192.168.1.64/27"));
    assert.ok(!bypassesProxy(new URL("http://192.168.1.96/"), "192.168.1.64/27"));
    assert.ok(bypassesProxy(new URL("http://[fd12:3456::1]/"), "fd00::/8"));
    assert.ok(!bypassesProxy(new URL("http://[fe80::1]/"), "fd00::/8"));
    assert.ok(!bypassesProxy(new URL("http://[::ffff:127.0.0.1]/"), "127.0.0.0/8"), "families never mix");
    assert.ok(!bypassesProxy(new URL("http://10.0.0.1/"), "10.0.0.0/33"), "a malformed block matches nothing");
  });

  it("NO_PROXY: an entry with a port matches only requests to that port (the scheme's default counts)", () => {
    assert.ok(bypassesProxy(new URL("http://127.0.0.1:8080/"), "127.0.0.1:8080"));
    assert.ok(!bypassesProxy(new URL("http://127.0.0.1:8081/"), "127.0.0.1:8080"));
    assert.ok(bypassesProxy(new URL("http://api.example.com:8080/"), "example.com:8080"));
    assert.ok(!bypassesProxy(new URL("http://api.example.com/"), "example.com:8080"));
    assert.ok(bypassesProxy(new URL("https://api.example.com/"), "api.example.com:443"));
    assert.ok(bypassesProxy(new URL("http://api.example.com/"), "api.example.com:80"));
    assert.ok(bypassesProxy(new URL("http://[::1]:8080/"), "[::1]:8080"));
    assert.ok(!bypassesProxy(new URL("http://[::1]:9090/"), "[::1]:8080"));
  });

  it("NO_PROXY: every entry that names the host, as written", () => {
    assert.deepEqual(noProxyEntries(new URL("http://10.1.2.3/"), " 10.0.0.0/8, a.b ,*,10.1.2.3:81"), [
      "10.0.0.0/8",
      "*",
    ]);
    assert.deepEqual(noProxyEntries(new URL("https://API.example.com/"), "Example.COM"), ["Example.COM"]);
    assert.deepEqual(noProxyEntries(new URL("https://api.example.com/"), "localhost"), []);
  });

  it("a proxy URL: http when it names no scheme, the scheme's port by default, credentials as Basic", () => {
    const proxy = (value: string) => {
      const parsed = parseProxy(value);
      return parsed.kind === "proxy" ? parsed.proxy : parsed;
    };
    assert.deepEqual(proxy("proxy.corp:3128"), {
      protocol: "http:",
      hostname: "proxy.corp",
      port: 3128,
      authorization: undefined,
    });
    assert.deepEqual(proxy("http://proxy.corp"), {
      protocol: "http:",
      hostname: "proxy.corp",
      port: 80,
      authorization: undefined,
    });
    assert.deepEqual(proxy("https://proxy.corp/"), {
      protocol: "https:",
      hostname: "proxy.corp",
      port: 443,
      authorization: undefined,
    });
    assert.deepEqual(proxy("http://[::1]:3128"), {
      protocol: "http:",
      hostname: "::1",
      port: 3128,
      authorization: undefined,
    });
    // Percent-decoded, then UTF-8: "ada@corp:p:ss wörd"
    assert.equal(
      (proxy("http://ada%40corp:p%3Ass%20w%C3%B6rd@proxy.corp:3128") as { authorization: string }).authorization,
      `Basic ${btoa("ada@corp:p:ss w\xc3\xb6rd")}`,
    );
    assert.equal((proxy("http://ada@proxy.corp") as { authorization: string }).authorization, `Basic ${btoa("ada:")}`);
    assert.deepEqual(parseProxy("socks5://127.0.0.1:1080"), {
      kind: "unusable",
      reason: "socks5: proxies are not supported",
    });
    assert.equal(parseProxy("http://").kind, "unusable");
    assert.equal(proxyRoute(new URL("http://a.b/"), envOf({ HTTP_PROXY: "socks5://p:1" })).kind, "unusable");
  });

  it("a password with a '/', '?' or '#' in it, not percent-encoded, makes no proxy of a part of it: none is used", () => {
    // The parser ends the credentials at the '/' and takes what comes before for the host (looked up, connected to).
    for (
      const value of ["http://S3CRETKEY/tail=@127.0.0.1:3128", "http://u:99/S3CRET@proxy.corp", "ada:9#S3CRET@p:1"]
    ) {
      assert.deepEqual(parseProxy(value), { kind: "unusable", reason: PASSWORD_CUT_SHORT }, value);
      for (const runtime of ["node", "deno"] as const) {
        const report = proxyReport(new URL("https://e.example/"), envOf({ HTTPS_PROXY: value }), runtime);
        assert.equal(report.route, "unusable", `${runtime}: ${value}`);
        assert.doesNotMatch(JSON.stringify(report), /S3CRET/i, "no part of the password is shown");
      }
    }
    assert.equal(parseProxy("http://ada:k3y%2Fb@proxy.corp:3128").kind, "proxy", "percent-encoded, it is a password");
  });
});

describe("the proxy report (status)", () => {
  const proxyOf = (report: ProxyReport) => report.route === "proxy" ? report.proxy : undefined;
  const report = (url: string, vars: Record<string, string>, on: "node" | "bun" | "deno" = "node") =>
    proxyReport(new URL(url), envOf(vars), on);
  const via = { HTTP_PROXY: "http://ada:pw@proxy.corp:3128" };

  it("says which way requests go, and what decided it", () => {
    assert.deepEqual(report("https://e.example/", via), {
      route: "direct",
      because: "no proxy variable is set for https: URLs",
    });
    assert.deepEqual(report("http://e.example/", { ...via, no_proxy: "x.y, .example" }), {
      route: "direct",
      because: "no_proxy names the host: .example",
    });
    assert.deepEqual(report("http://e.example/", { ALL_PROXY: "[::1]:3128" }), {
      route: "proxy",
      proxy: "http://[::1]:3128",
      because: "ALL_PROXY",
    });
  });

  it("in a CGI program (REQUEST_METHOD set) HTTP_PROXY is ignored by every runtime, Bun's fetch included", () => {
    // Bun's fetch would honour it by its own reading of the variables; it is given the library's route instead.
    const cgi = { HTTP_PROXY: "http://proxy.corp:3128", REQUEST_METHOD: "GET" };
    for (const on of ["node", "bun", "deno"] as const) {
      assert.deepEqual(report("http://e.example/", cgi, on), {
        route: "direct",
        because: "HTTP_PROXY ignored in a CGI program (REQUEST_METHOD is set)",
      });
    }
    assert.equal(report("http://e.example/", { ...cgi, REQUEST_METHOD: "" }, "bun").route, "direct", "even empty");
    const both = { ...cgi, http_proxy: "http://other:1" };
    assert.equal(
      report("http://e.example/", both, "deno").because,
      "HTTP_PROXY and http_proxy ignored in a CGI program (REQUEST_METHOD is set)",
    );
    assert.equal(report("http://e.example/", both, "node").route, "proxy", "the library takes http_proxy there");
  });

  it("Deno sends the proxy's credentials to the host only through an http: proxy, for https URLs", () => {
    const sends = (url: string, proxy: string) =>
      denoSendsProxyCredentials(new URL(url), envOf({ HTTPS_PROXY: proxy, HTTP_PROXY: proxy }));
    assert.equal(sends("https://e.example/", "http://ada:pw@proxy.corp:3128"), true);
    assert.equal(sends("https://e.example/", "ada:pw@proxy.corp:3128"), true, "no scheme: http");
    // Brackets in pairs are credentials Deno reads (one alone makes it skip the value: direct).
    assert.equal(sends("https://e.example/", "http://ada:[::1]@proxy.corp:3128"), true);
    assert.equal(sends("https://e.example/", "http://ada:p[w]@proxy.corp:3128"), true);
    assert.equal(sends("https://e.example/", "http://ada:p[w@proxy.corp:3128"), false);
    // To the proxy only: over TLS to an https: proxy, in a socks5 login, or without credentials, or in absolute form.
    assert.equal(sends("https://e.example/", "https://ada:pw@proxy.corp:3128"), false);
    assert.equal(sends("https://e.example/", "socks5://ada:pw@proxy.corp:1080"), false);
    assert.equal(sends("https://e.example/", "http://proxy.corp:3128"), false);
    assert.equal(sends("http://e.example/", "http://ada:pw@proxy.corp:3128"), false);
  });

  it("never shows the proxy's credentials", () => {
    const shown = report("http://e.example/", via);
    assert.deepEqual(shown, {
      route: "proxy",
      proxy: "http://proxy.corp:3128",
      because: "HTTP_PROXY, with credentials",
    });
    assert.doesNotMatch(JSON.stringify(shown), /ada|pw/);
  });

  it("a proxy that cannot be used: no request is sent, and that is a problem (Node.js, Bun); Deno's fetch speaks socks5", () => {
    const socks = { HTTP_PROXY: "socks5://ada:pw@127.0.0.1:1080" };
    for (const on of ["node", "bun"] as const) {
      const shown = report("http://e.example/", socks, on);
      assert.equal(shown.route, "unusable");
      assert.match(shown.problem ?? "", /^HTTP_PROXY cannot be used: socks5: proxies are not supported; requests are/);
      assert.doesNotMatch(JSON.stringify(shown), /ada|pw/);
    }
    const shown = report("http://e.example/", socks, "deno");
    assert.deepEqual([shown.route, proxyOf(shown), shown.because], [
      "proxy",
      "socks5://127.0.0.1:1080",
      "HTTP_PROXY, with credentials",
    ]);
    assert.doesNotMatch(JSON.stringify(shown), /ada|pw/);
  });

  it("Deno: reads NO_PROXY entries as written: not with a port, brackets, *. or capitals, * for names only", () => {
    const ignored: [string, string][] = [
      ["http://127.0.0.1:8080/", "127.0.0.1:8080"],
      ["http://[::1]:8080/", "[::1]"],
      ["http://127.0.0.1:8080/", "*"],
      ["http://e.example:8080/", "e.example:8080"],
      ["http://api.e.example/", "*.e.example"],
      ["http://e.example/", "E.example"],
      ["http://e.example./", "e.example"],
    ];
    for (const [url, entry] of ignored) {
      assert.equal(report(url, { ...via, NO_PROXY: entry }, "bun").route, "direct", entry);
      const shown = report(url, { ...via, NO_PROXY: entry }, "deno");
      assert.deepEqual([shown.route, proxyOf(shown)], ["proxy", "http://proxy.corp:3128"], entry);
      assert.match(
        shown.problem ?? "",
        /^Deno's fetch sends these requests through http:\/\/proxy\.corp:3128 \(HTTP_PROXY/,
      );
      assert.match(shown.problem ?? "", /where Node\.js and Bun send them directly \(NO_PROXY names the host: /);
    }
    const honoured: [string, string][] = [
      ["http://127.0.0.1:8080/", "127.0.0.1"],
      ["http://10.1.2.3/", "10.0.0.0/8"],
      ["http://[::1]:8080/", "::1"],
      ["http://e.example/", "*"],
      ["http://api.e.example/", ".e.example"],
      ["http://api.e.example/", " e.example "],
    ];
    for (const [url, entry] of honoured) {
      assert.deepEqual(report(url, { ...via, NO_PROXY: entry }, "deno"), {
        route: "direct",
        because: `NO_PROXY names the host: ${entry.trim()}`,
      });
    }
    assert.equal(report("http://e.example/", { ...via, NO_PROXY: "x.example" }, "deno").route, "proxy", "not a suffix");
    assert.equal(
      report("http://ee.example/", { ...via, NO_PROXY: "e.example" }, "deno").route,
      "proxy",
      "not mid-label",
    );
  });

  it("Deno: uppercase first, ALL_PROXY first, a value it cannot parse skipped, CGI ignoring both spellings", () => {
    const P = "http://p:1";
    const Q = "http://q:2";
    // The way Deno's fetch takes (a request it would send around the proxy is not sent: see the next test).
    const deno = (url: string, vars: Record<string, string>) => {
      const way = denoProxyRoute(new URL(url), envOf(vars));
      return way.kind === "proxy" ? way.url : way.kind;
    };
    assert.equal(deno("http://e.example/", { HTTP_PROXY: P, http_proxy: Q }), "http://p:1");
    assert.equal(deno("https://e.example/", { HTTPS_PROXY: P, https_proxy: Q }), "http://p:1");
    assert.equal(deno("https://e.example/", { HTTPS_PROXY: P, all_proxy: Q }), "http://q:2");
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "::::", http_proxy: Q }), "http://q:2");
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "ftp://p:1" }), "direct");
    assert.equal(deno("http://e.example/", { HTTP_PROXY: ` ${P}` }), "direct", "blanks around it");
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "http://ada@p:1" }), "direct", "a user without a password");
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "p:1" }), "http://p:1", "no scheme: http");
    // A host name of a URI's unreserved characters and sub-delimiters (a Compose service's `my_proxy`); not `%`.
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "http://my_proxy:1" }), "http://my_proxy:1");
    assert.equal(
      deno("http://e.example/", { HTTP_PROXY: "a~b!c$d&e'f(g)h*i+j,k;l=m:1" }),
      "http://a~b!c$d&e'f(g)h*i+j,k;l=m:1",
    );
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "http://m%41:1" }), "direct");
    // Hosts the URL parser refuses, which Deno's fetch looks up as names (checked against Deno 2.9.6: it uses them).
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "http://XN--a:1" }), "http://xn--a:1");
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "999.1.1.1:1" }), "http://999.1.1.1:1");
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "https://p" }), "https://p:443");
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "https://P:80/" }), "https://p:80");
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "socks5h://[::1]" }), "socks5h://[::1]:1080");
    assert.equal(report("http://e.example/", { HTTP_PROXY: "HTTP://Proxy:0080" }, "deno").problem, undefined);
    assert.equal(report("http://e.example/", { HTTP_PROXY: "http://0x7f000001:1" }, "deno").problem, undefined);
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "http://p:99999" }), "http://p:80", "the default port");
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "http://p:1/{x}?a=|^" }), "http://p:1", "a path as written");
    for (
      const value of ["SOCKS5://p:1", "http://%", "http://u:p@", "a:b@", "http://loc%61lhost:1", "http://u:a]b@p:1"]
    ) {
      assert.equal(deno("http://e.example/", { HTTP_PROXY: value }), "direct", value);
    }
    assert.equal(
      deno("http://e.example/", { HTTP_PROXY: "http://u:p@x@q:2" }),
      "http://q:2",
      "the host after the last @",
    );
    assert.equal(deno("http://e.example/", { HTTP_PROXY: "http://q:+02" }), "http://q:2", "a port as Rust reads one");
    assert.equal(deno("http://127.0.0.1/", { HTTP_PROXY: P, NO_PROXY: "127.000.0.0/08" }), "direct", "a block's zeros");
    assert.equal(deno("http://[::ffff:127.0.0.1]/", { HTTP_PROXY: P, NO_PROXY: "::ffff:7f00:1/128" }), "direct");
    assert.equal(deno("http://127.0.0.1/", { HTTP_PROXY: P, NO_PROXY: "\ufeff127.0.0.1" }), "http://p:1", "not blank");
    assert.equal(deno("http://127.0.0.1/", { HTTP_PROXY: P, NO_PROXY: "127.0.0.1\u0085" }), "direct", "blank to Rust");
    assert.equal(deno("http://127.0.0.1/", { HTTP_PROXY: P, NO_PROXY: "127.000.0.1" }), "http://p:1", "leading zeros");
    assert.equal(
      deno("http://127.0.0.1/", { HTTP_PROXY: P, NO_PROXY: "127.0.0.0/008" }),
      "http://p:1",
      "3-digit prefix",
    );
    assert.equal(deno("http://e.example/", { http_proxy: P, REQUEST_METHOD: "GET" }), "direct");
    assert.equal(deno("http://e.example/", { HTTP_PROXY: P, NO_PROXY: "", no_proxy: "e.example" }), "http://p:1");
  });

  it("Deno: a proxy setting its fetch cannot parse, and would skip to go around the proxy, makes the route unusable", () => {
    const target = new URL("https://e.example/");
    const env = envOf({ HTTPS_PROXY: "http://ada:pw@p:1 " });
    const because = "Deno's fetch cannot parse HTTPS_PROXY, which it skips: it would go around the proxy named there";
    assert.equal(denoGoesAround(target, env), because);
    assert.deepEqual(proxyReport(target, env, "deno"), {
      route: "unusable",
      because,
      problem: `nothing is sent: ${because}`,
    });
    assert.equal(proxyReport(target, env, "node").route, "proxy", "Node.js and Bun trim it");
    // Where the others send nothing (a scheme none speaks), Deno's fetch would still go directly.
    assert.equal(denoGoesAround(target, envOf({ HTTPS_PROXY: "ftp://p:1" })), because);
    // Not where it takes another variable, nor where the library's reading goes directly too.
    assert.equal(denoGoesAround(target, envOf({ HTTPS_PROXY: "p:1 ", ALL_PROXY: "http://q:2" })), undefined);
    assert.equal(denoGoesAround(target, envOf({ HTTPS_PROXY: "http://p:1 ", NO_PROXY: "e.example" })), undefined);
    assert.equal(denoGoesAround(target, envOf({ HTTP_PROXY: "http://p:1 " })), undefined, "not for https URLs");
  });

  it("Deno: a variable the program may not read makes the route unknown, not a guess", () => {
    const hidden = (name: string) => name === "https_proxy";
    assert.equal(proxyReport(new URL("https://e.example/"), envOf({}), "deno", hidden).route, "unknown");
    assert.equal(proxyReport(new URL("https://e.example/"), envOf({}), "node", hidden).route, "direct");
  });

  it("Deno: a proxy setting that is not valid Unicode, which Deno's fetch skips, makes the route unusable", () => {
    const notUnicode = (name: string) => name === "HTTPS_PROXY";
    const report = proxyReport(new URL("https://e.example/"), envOf({}), "deno", notUnicode, notUnicode);
    assert.deepEqual([report.route, report.because], [
      "unusable",
      "HTTPS_PROXY is not valid Unicode, which Deno's fetch skips: it would go around the proxy named there",
    ]);
    assert.equal(proxyReport(new URL("https://e.example/"), envOf({}), "node", notUnicode, notUnicode).route, "direct");
    const noProxy = (name: string) => name === "NO_PROXY";
    assert.match(
      proxyReport(new URL("https://e.example/"), envOf({}), "deno", noProxy, noProxy).because,
      /may not read NO_PROXY \(its value is not valid Unicode\)/,
    );
  });
});

/** The Node.js client, reading its proxy settings from `vars`. */
function fetchWith(vars: Record<string, string>) {
  return nodeFetch((name) => process.getBuiltinModule(name), envOf(vars));
}

/** Releases an answer of the Node.js client, whose body it makes cancellable. */
function cancel(response: FetchResponse): Promise<void> {
  return (response.body as { cancel(): Promise<void> }).cancel();
}

/** A POST as a delivery makes it. */
function post(signal: AbortSignal = new AbortController().signal) {
  return {
    method: "POST" as const,
    headers: { "content-type": "application/json" },
    body: '{"events":[]}',
    redirect: "manual" as const,
    signal,
  };
}

describe("the Node.js client (node_fetch.ts) through a proxy", () => {
  it("sends an http request to the proxy in absolute form, with Proxy-Authorization for the proxy", async () => {
    const server = await TestServer.start();
    const proxy = await TestProxy.start(server.port);
    try {
      const endpoint = `http://${UNRESOLVABLE}:${server.port}/events?x=1`;
      const response = await fetchWith({ HTTP_PROXY: proxy.url("ada:s%40fe") })(endpoint, post());
      await cancel(response);
      assert.equal(response.status, 200);
      assert.deepEqual(proxy.asked, [`POST ${endpoint}`]);
      assert.equal(proxy.requests[0].headers["proxy-authorization"], `Basic ${btoa("ada:s@fe")}`);
      assert.equal(proxy.requests[0].headers.host, `${UNRESOLVABLE}:${server.port}`);
      assert.deepEqual(server.requests.map((request) => request.path), ["/events?x=1"]);
      // The endpoint's credentials and fragment are not in the request line, which proxies log (RFC 9110, 4.2.4).
      const credentials = await fetchWith({ HTTP_PROXY: proxy.url() })(
        `http://ingest:t0ken@${UNRESOLVABLE}:${server.port}/events?x=1#part`,
        post(),
      );
      await cancel(credentials);
      assert.equal(proxy.asked[1], `POST ${endpoint}`);
      assert.equal(server.requests[1].headers.authorization, `Basic ${btoa("ingest:t0ken")}`, "as when direct");
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  it("opens a CONNECT tunnel for an https request; a refusal (403) is a network error: the delivery retries", async () => {
    const server = await TestServer.start();
    const proxy = await TestProxy.start(server.port, { refuseConnect: 403 });
    try {
      const endpoint = `https://${UNRESOLVABLE}:${server.port}/events`;
      const fetch = fetchWith({ HTTPS_PROXY: proxy.url("ada:pw") });
      await assert.rejects(fetch(endpoint, post()));
      const outcome = await deliver({ url: endpoint, body: "{}", fetch, timeoutMs: 5000, now: Date.now });
      assert.deepEqual(withoutThrown(outcome), { kind: "retry", reason: "network_error" });
      assert.deepEqual(proxy.asked, [
        `CONNECT ${UNRESOLVABLE}:${server.port}`,
        `CONNECT ${UNRESOLVABLE}:${server.port}`,
      ]);
      assert.equal(proxy.requests[0].headers["proxy-authorization"], `Basic ${btoa("ada:pw")}`);
      assert.equal(proxy.requests[0].headers.host, `${UNRESOLVABLE}:${server.port}`);
      assert.equal(server.requests.length, 0);
      await waitFor(() => proxy.connections === 0, "the refused connections to close");
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  it("goes directly to a host NO_PROXY names, and through the proxy to one it does not", async () => {
    const server = await TestServer.start();
    const proxy = await TestProxy.start(server.port);
    try {
      const vars = { HTTP_PROXY: proxy.url(), NO_PROXY: `localhost,127.0.0.1:${server.port}` };
      const direct = await fetchWith(vars)(server.url(), post());
      await cancel(direct);
      assert.deepEqual([direct.status, proxy.asked, server.requests.length], [200, [], 1]);
      const proxied = await fetchWith({ ...vars, NO_PROXY: "localhost,127.0.0.1:1" })(server.url(), post());
      await cancel(proxied);
      assert.deepEqual([proxied.status, proxy.asked, server.requests.length], [200, [`POST ${server.url()}`], 2]);
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  it("fails, rather than bypass it, when the proxy set cannot be used (socks5)", async () => {
    const server = await TestServer.start();
    try {
      await assert.rejects(fetchWith({ HTTP_PROXY: "socks5://127.0.0.1:1080" })(server.url(), post()), RequestNotBuilt);
      assert.equal(server.requests.length, 0);
    } finally {
      await server.close();
    }
  });

  it("a request it cannot build is not sent; after a redirect, where the endpoint was asked, it is a retry", async () => {
    const target = await TestServer.start();
    const endpoint = await TestServer.start(() => ({ status: 307, headers: { location: target.url() } }));
    try {
      const deliverWith = (vars: Record<string, string>) =>
        deliver({ url: endpoint.url(), body: "{}", fetch: fetchWith(vars), timeoutMs: 5000, now: Date.now });
      const socks = { HTTP_PROXY: "socks5://127.0.0.1:1080" };
      assert.equal((await deliverWith(socks)).kind, "not_sent");
      assert.equal(endpoint.requests.length, 0);
      // The endpoint is reached directly; the target it redirects to would need the proxy.
      const outcome = await deliverWith({ ...socks, NO_PROXY: `127.0.0.1:${endpoint.port}` });
      assert.deepEqual(withoutThrown(outcome), { kind: "retry", reason: "network_error" });
      assert.deepEqual([endpoint.requests.length, target.requests.length], [1, 0]);
    } finally {
      await endpoint.close();
      await target.close();
    }
  });

  // A request stuck at each step of the way: the abort ends it and closes every connection the proxy sees. (For
  // the TLS handshake, a plain server reads the TLS hello and stays silent: the tunnel is open, the handshake hangs.)
  const stuck: [string, "http" | "https", { hang?: boolean }, (proxy: TestProxy) => boolean][] = [
    ["a proxy that never answers CONNECT", "https", { hang: true }, (proxy) => proxy.asked.length === 1],
    ["a tunnel whose TLS handshake never ends", "https", {}, (proxy) => proxy.connections === 2],
    ["a proxy that never answers a plain request", "http", { hang: true }, (proxy) => proxy.asked.length === 1],
  ];
  for (const [name, scheme, options, isStuck] of stuck) {
    it(`${name}: the abort ends the request and closes every connection`, async () => {
      const server = await TestServer.start();
      const proxy = await TestProxy.start(server.port, options);
      try {
        const controller = new AbortController();
        const variable = scheme === "https" ? "HTTPS_PROXY" : "HTTP_PROXY";
        const pending = fetchWith({ [variable]: proxy.url() })(
          `${scheme}://${UNRESOLVABLE}:${server.port}/`,
          post(controller.signal),
        );
        await waitFor(() => isStuck(proxy), "the request to be stuck");
        controller.abort();
        await assert.rejects(pending);
        await waitFor(() => proxy.connections === 0, "every connection to close");
      } finally {
        await proxy.close();
        await server.close();
      }
    });
  }
});

const certificate = makeCertificate(tempDirForTheProcess(), [UNRESOLVABLE, ELSEWHERE]);
const needsCertificate = !certificate && "needs openssl to make a certificate";

/** An endpoint that only `proxy` can reach, served by `server`. */
function unreachable(scheme: "http" | "https", server: TestServer): string {
  return `${scheme}://${UNRESOLVABLE}:${server.port}/events`;
}

/** The environment of a run that trusts the test CA, with `vars` for its proxy settings. */
function runEnv(vars: Record<string, string>): Record<string, string | undefined> {
  const trust = certificate ? { NODE_EXTRA_CA_CERTS: certificate.caPath, DENO_CERT: certificate.caPath } : {};
  return { ...UNSET_PROXY_VARIABLES, NAT_TELEMETRY_ENABLED: "1", ...trust, ...vars };
}

/** The stats a `handler_child.ts stop` run printed. */
function printed(result: ChildResult): { stats: { sent: number; spooled: number; dropped: object }; stopMs: number } {
  assert.deepEqual([result.code, result.stderr], [0, ""], "the host program is not disturbed");
  return JSON.parse(result.stdout);
}

describe("a run behind a proxy (child processes)", () => {
  for (const scheme of ["http", "https"] as const) {
    const variable = scheme === "https" ? "HTTPS_PROXY" : "HTTP_PROXY";
    const asked = (server: TestServer) =>
      scheme === "https" ? `CONNECT ${UNRESOLVABLE}:${server.port}` : `POST ${unreachable(scheme, server)}`;

    it(`delivers in process over ${scheme} through ${variable}, credentials to the proxy only`, {
      skip: scheme === "https" && needsCertificate,
    }, async () => {
      const server = await TestServer.start(undefined, scheme === "https" ? certificate : undefined);
      const proxy = await TestProxy.start(server.port);
      try {
        const result = await runChild("handler_child.ts", {
          args: ["stop", unreachable(scheme, server)],
          env: runEnv({ [variable]: proxy.url("ada:s%40fe") }),
        });
        assert.equal(printed(result).stats.sent, 1);
        assert.equal(server.events().length, 1);
        assert.deepEqual(proxy.asked, [asked(server)]);
        assert.equal(proxy.requests[0].headers["proxy-authorization"], `Basic ${btoa("ada:s@fe")}`);
        // Deno 2.9.6's own fetch sends Proxy-Authorization to the endpoint too, inside the tunnel (measured):
        // a leak of the proxy's credentials that is Deno's, not ours to test.
        if (scheme === "http" || runtime !== "deno") {
          assert.equal(server.requests[0].headers["proxy-authorization"], undefined);
        }
      } finally {
        await proxy.close();
        await server.close();
      }
    });

    it(`hands off at exit to a sender that delivers over ${scheme} through ${variable}`, {
      skip: scheme === "https" && needsCertificate,
    }, async () => {
      using dir = tempDir();
      const server = await TestServer.start(undefined, scheme === "https" ? certificate : undefined);
      const proxy = await TestProxy.start(server.port);
      try {
        const result = await runChild("exit_child.ts", {
          args: ["natural"],
          env: runEnv({
            [variable]: proxy.url(),
            NAT_TELEMETRY_ENDPOINT: unreachable(scheme, server),
            NAT_TELEMETRY_HANDOFF: "1",
            NAT_TELEMETRY_SPOOL_DIR: dir.path,
            NAT_TEST_COMMAND: "handed-off",
            NAT_TEST_OPTIONS: JSON.stringify({ exitTimeoutSeconds: 1, requestTimeoutSeconds: 1 }),
          }),
        });
        assert.deepEqual([result.code, result.stderr], [0, ""]);
        await waitFor(() => server.events().length === 1, "the sender's delivery", 20_000);
        assert.equal(server.events()[0].parameters.command, "handed-off");
        assert.deepEqual(proxy.asked, [asked(server)], "the sender went through the proxy");
        await sendersGone(dir.path);
        assert.deepEqual(spooled(dir.path), []);
      } finally {
        await proxy.close();
        await server.close();
      }
    });
  }

  // Deno's fetch honours these whatever the program may read; a sender would not have them.
  for (const hidden of ["HTTP_PROXY", "REQUEST_METHOD"]) {
    it(`Deno: a program that may not read ${hidden} delivers in process at exit, through the proxy`, {
      skip: runtime !== "deno" && "Deno's --allow-env",
    }, async () => {
      using dir = tempDir();
      const server = await TestServer.start();
      const proxy = await TestProxy.start(server.port);
      try {
        const env = runEnv({
          HTTP_PROXY: proxy.url(),
          NAT_TELEMETRY_ENDPOINT: unreachable("http", server),
          NAT_TELEMETRY_HANDOFF: "1",
          NAT_TELEMETRY_SPOOL_DIR: dir.path,
          NAT_TELEMETRY_DEBUG: "1",
          NAT_TEST_COMMAND: "behind-a-hidden-proxy",
          CI: "",
        });
        // Every variable the run has, and REQUEST_METHOD, but the hidden one.
        // What exit_child.ts reads, set or not, and a dry run: one the program may not read could be set.
        const fixture = [
          "NAT_TEST_AT",
          "NAT_TEST_BIG",
          "NAT_TEST_CAPTURE",
          "NAT_TEST_CHDIR",
          "NAT_TEST_HOME",
          "NAT_TEST_OPTIONS",
          "NAT_TEST_PROGRAM_ON",
          "NAT_TELEMETRY_DRY_RUN",
        ];
        const names = new Set(
          [...Object.keys(process.env), ...Object.keys(env), ...fixture, "REQUEST_METHOD"].filter((name) =>
            name !== hidden
          ),
        );
        const result = await runChild("exit_child.ts", {
          args: ["natural"],
          env,
          denoFlags: [
            "--allow-read",
            "--allow-write",
            "--allow-net",
            "--allow-run",
            "--allow-sys",
            `--allow-env=${[...names].join(",")}`,
          ],
        });
        assert.equal(result.code, 0);
        assert.match(result.stderr, new RegExp(`at exit: delivering in process: the program may not read ${hidden} `));
        assert.deepEqual(
          server.events().map((event) => event.parameters.command),
          ["behind-a-hidden-proxy"],
          "in process",
        );
        assert.deepEqual(proxy.asked, [`POST ${unreachable("http", server)}`], "through the proxy, as the program's");
        assert.deepEqual(spooled(dir.path), []);
      } finally {
        await proxy.close();
        await server.close();
      }
    });
  }

  it("a redirect to another host with the proxy's credentials: Deno, whose fetch would send them there, drops it", {
    skip: needsCertificate,
  }, async () => {
    const server = await TestServer.start(undefined, certificate);
    const proxy = await TestProxy.start(server.port);
    server.reply({ status: 307, headers: { location: `https://${ELSEWHERE}:${server.port}/moved` } });
    try {
      const { stats } = printed(
        await runChild("handler_child.ts", {
          args: ["stop", unreachable("https", server)],
          env: runEnv({ HTTPS_PROXY: proxy.url("ada:pw") }),
        }),
      );
      const first = `CONNECT ${UNRESOLVABLE}:${server.port}`;
      if (runtime === "deno") {
        assert.deepEqual([stats.sent, stats.dropped], [0, { unsafe_redirect: 1 }]);
        assert.deepEqual(proxy.asked, [first], "the other host was never asked");
      } else {
        // Node.js and Bun send the credentials to the proxy only: the redirect is followed.
        assert.equal(stats.sent, 1);
        assert.deepEqual(proxy.asked, [first, `CONNECT ${ELSEWHERE}:${server.port}`]);
        assert.equal(server.requests[1].headers["proxy-authorization"], undefined);
      }
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  it("delivers over https through an https: proxy (TLS to the proxy, and to the endpoint inside the tunnel)", {
    skip: needsCertificate,
  }, async () => {
    const server = await TestServer.start(undefined, certificate);
    const proxy = await TestProxy.start(server.port, { tls: certificate });
    try {
      assert.match(proxy.url(), /^https:/);
      const result = await runChild("handler_child.ts", {
        args: ["stop", unreachable("https", server)],
        env: runEnv({ HTTPS_PROXY: proxy.url() }),
      });
      assert.equal(printed(result).stats.sent, 1);
      assert.equal(server.events().length, 1);
      assert.deepEqual(proxy.asked, [`CONNECT ${UNRESOLVABLE}:${server.port}`]);
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  it("checks an endpoint's certificate against the endpoint's address, not the proxy's", {
    skip: needsCertificate,
  }, async () => {
    // The proxy is named `localhost`, the endpoint 127.0.0.1, which the certificate names (`localhost` it does not).
    const server = await TestServer.start(undefined, certificate);
    const proxy = await TestProxy.start(server.port);
    try {
      const result = await runChild("handler_child.ts", {
        args: ["stop", server.url()],
        env: runEnv({ HTTPS_PROXY: proxy.url().replace("127.0.0.1", "localhost") }),
      });
      assert.equal(printed(result).stats.sent, 1);
      assert.deepEqual(proxy.asked, [`CONNECT 127.0.0.1:${server.port}`]);
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  it("refuses an endpoint whose certificate does not name it: the tunnel does not weaken TLS", {
    skip: needsCertificate,
  }, async () => {
    using dir = tempDir();
    const server = await TestServer.start(undefined, certificate);
    const proxy = await TestProxy.start(server.port);
    try {
      const result = await runChild("handler_child.ts", {
        args: ["stop", `https://impostor.invalid:${server.port}/events`],
        env: runEnv({ HTTPS_PROXY: proxy.url(), NAT_TELEMETRY_SPOOL_DIR: dir.path }),
      });
      assert.deepEqual(proxy.asked, [`CONNECT impostor.invalid:${server.port}`]);
      assert.deepEqual([printed(result).stats.sent, server.requests.length], [0, 0]);
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  it("goes directly to an endpoint whose host NO_PROXY names", async () => {
    const server = await TestServer.start();
    const proxy = await TestProxy.start(server.port);
    try {
      const result = await runChild("handler_child.ts", {
        args: ["stop", server.url()],
        env: runEnv({ HTTP_PROXY: proxy.url(), NO_PROXY: "localhost,127.0.0.1" }),
      });
      assert.equal(printed(result).stats.sent, 1);
      assert.equal(server.events().length, 1);
      assert.deepEqual(proxy.asked, []);
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  it("status tells the route a run's requests take in this runtime, and where Deno's differs, says so", async () => {
    using dir = tempDir();
    const server = await TestServer.start();
    const a = await TestProxy.start(server.port);
    const b = await TestProxy.start(server.port);
    const [A, B] = [a.url(), b.url()];
    // Each with whether Deno's route differs from the library's (Node.js's), and why; `around`: a value Deno's fetch
    // cannot parse, which it would skip to go directly, where the others take the proxy or send nothing: under Deno,
    // not sent either.
    const around = "around";
    const cases: [Record<string, string>, boolean | typeof around][] = [
      [{ HTTP_PROXY: A }, false],
      [{ HTTP_PROXY: A, NO_PROXY: "127.0.0.1" }, false],
      [{ HTTP_PROXY: A, NO_PROXY: `127.0.0.1:${server.port}` }, true], // Deno: not with a port
      [{ HTTP_PROXY: A, NO_PROXY: "*" }, true], // Deno: * for names only
      [{ HTTP_PROXY: A, http_proxy: B }, true], // Deno: uppercase first
      [{ HTTP_PROXY: A, ALL_PROXY: B }, true], // Deno: ALL_PROXY first
      [{ HTTP_PROXY: A, NO_PROXY: "", no_proxy: "127.0.0.1" }, true], // Deno: an empty NO_PROXY hides no_proxy
      [{ http_proxy: A, REQUEST_METHOD: "GET" }, true], // Deno: in CGI, neither spelling
      [{ HTTP_PROXY: A, REQUEST_METHOD: "" }, false], // Bun's fetch alone would take HTTP_PROXY in CGI
      [{ HTTP_PROXY: "ftp://127.0.0.1:1", http_proxy: " " }, around], // the others: not sent
      [{ HTTP_PROXY: ` ${A} ` }, around], // the others through A; Bun's fetch alone would fail to resolve it
      [{ HTTP_PROXY: `${A} `, NO_PROXY: "127.0.0.1" }, false], // direct, as NO_PROXY says, in every runtime
      [{ HTTP_PROXY: a.url("ada:p[w]") }, false], // brackets in pairs: Deno reads the credentials
      [{ HTTP_PROXY: `ada:pw@${A.slice("http://".length)}` }, false], // no scheme: Bun's fetch alone would look up "ada"
      // A scheme no runtime here speaks but Deno: Bun's fetch alone would go directly, past it.
      ...runtime === "deno"
        ? []
        : [[{ ALL_PROXY: "socks5://127.0.0.1:1" }, false] as [Record<string, string>, boolean]],
    ];
    try {
      for (const [i, [vars, denoDiffers]] of cases.entries()) {
        // A spool each: what a case could not send would go with the next one's event.
        const spool = `${dir.path}/${i}`;
        const env = runEnv({ ...vars, NAT_TELEMETRY_ENDPOINT: server.url(), NAT_TELEMETRY_SPOOL_DIR: spool });
        const before = [a.asked.length, b.asked.length, server.requests.length];
        const { stats } = printed(await runChild("handler_child.ts", { args: ["stop", server.url()], env }));
        const [viaA, viaB, arrived] = [a.asked.length, b.asked.length, server.requests.length].map((n, i) =>
          n > before[i]
        );
        const taken = viaA ? A : viaB ? B : arrived ? "direct" : "not sent";
        const { proxy: shown, problems } = JSON.parse(
          (await runChild("../../src/cli.ts", { args: ["status", "--json"], env })).stdout,
        );
        const told = shown.route === "proxy" ? shown.proxy : shown.route === "unusable" ? "not sent" : shown.route;
        assert.equal(told, taken, `${JSON.stringify(vars)}: status says ${JSON.stringify(shown)}`);
        assert.equal(stats.sent, arrived ? 1 : 0);
        const named = problems.some((problem: string) => problem.startsWith("Deno's fetch sends"));
        assert.equal(named, runtime === "deno" && denoDiffers === true, `${JSON.stringify(vars)}: ${problems}`);
        if (runtime === "deno" && denoDiffers === around) assert.equal(taken, "not sent", JSON.stringify(vars));
      }
    } finally {
      await a.close();
      await b.close();
      await server.close();
    }
  });

  it("sends even a loopback endpoint through the proxy when NO_PROXY does not name it (as Deno and Bun do)", async () => {
    const server = await TestServer.start();
    const proxy = await TestProxy.start(server.port);
    try {
      const result = await runChild("handler_child.ts", {
        args: ["stop", server.url()],
        env: runEnv({ HTTP_PROXY: proxy.url() }),
      });
      assert.equal(printed(result).stats.sent, 1);
      assert.deepEqual(proxy.asked, [`POST ${server.url()}`]);
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  it("a proxy that refuses CONNECT (403): the event is spooled, not dropped, and a later run delivers it", {
    skip: needsCertificate,
  }, async () => {
    using dir = tempDir();
    const server = await TestServer.start(undefined, certificate);
    const refusing = await TestProxy.start(server.port, { refuseConnect: 403 });
    const working = await TestProxy.start(server.port);
    try {
      const run = (proxy: TestProxy) =>
        runChild("handler_child.ts", {
          args: ["stop", unreachable("https", server)],
          env: runEnv({ HTTPS_PROXY: proxy.url(), NAT_TELEMETRY_SPOOL_DIR: dir.path }),
        });
      const first = printed(await run(refusing));
      assert.deepEqual([first.stats.sent, first.stats.spooled, first.stats.dropped], [0, 1, {}]);
      assert.ok(refusing.asked.length >= 1, "the proxy was asked");
      assert.equal(spooled(dir.path).length, 1);
      forgetHealth(dir.path); // as if the endpoint's wait had passed
      const second = printed(await run(working));
      assert.equal(second.stats.sent, 2, "the spooled event and the new one");
      assert.equal(server.events().length, 2);
      assert.deepEqual(spooled(dir.path), []);
    } finally {
      await refusing.close();
      await working.close();
      await server.close();
    }
  });

  it(
    "a proxy setting the client cannot use (socks5) is not the endpoint's failure: a run without it delivers at once",
    {
      skip: runtime === "deno" &&
        "Deno's fetch speaks socks5: there, a proxy that cannot be reached is a network error",
    },
    async () => {
      using dir = tempDir();
      const server = await TestServer.start();
      try {
        const run = (proxy: Record<string, string>) =>
          runChild("handler_child.ts", {
            args: ["stop", server.url()],
            env: runEnv({ ...proxy, NAT_TELEMETRY_SPOOL_DIR: dir.path }),
          });
        const first = printed(await run({ HTTP_PROXY: "socks5://127.0.0.1:1080" }));
        assert.deepEqual([first.stats.sent, first.stats.spooled, first.stats.dropped], [0, 1, {}]);
        assert.equal(server.requests.length, 0, "nothing went around the proxy");
        // The endpoint was never asked, so it is not marked down: the next run sends without waiting.
        const second = printed(await run({}));
        assert.equal(second.stats.sent, 2, "the spooled event and the new one");
        assert.deepEqual(spooled(dir.path), []);
      } finally {
        await server.close();
      }
    },
  );

  it("a proxy that never answers: the delivery ends by its deadline, the event is kept, the process exits", async () => {
    using dir = tempDir();
    const server = await TestServer.start();
    const proxy = await TestProxy.start(server.port, { hang: true });
    try {
      const result = await runChild("handler_child.ts", {
        args: ["stop", `https://${UNRESOLVABLE}:${server.port}/events`],
        env: runEnv({
          HTTPS_PROXY: proxy.url(),
          NAT_TELEMETRY_SPOOL_DIR: dir.path,
          NAT_TEST_OPTIONS: JSON.stringify({ requestTimeoutSeconds: 0.5, exitTimeoutSeconds: 1 }),
        }),
        limitMs: 15_000,
      });
      const { stats, stopMs } = printed(result);
      assert.equal(proxy.asked.length, 1, "the proxy was asked");
      assert.deepEqual([stats.sent, stats.spooled, stats.dropped], [0, 1, {}]);
      assert.ok(stopMs < 2_000, `stop() took ${stopMs} ms`);
      assert.ok(result.elapsedMs < 10_000, `the run took ${result.elapsedMs} ms`);
    } finally {
      await proxy.close();
      await server.close();
    }
  });
});
