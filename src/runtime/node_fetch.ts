/**
 * A minimal `fetch` for Node.js on `node:http` and `node:https`: the first
 * call of Node's own `fetch` loads undici, which costs a CLI about 50 ms and
 * 30 MB. It does exactly what a delivery needs: one POST with a string body,
 * never following redirects, aborted by a signal, the body cancelled (or, for
 * an answer that says something, read as a web stream).
 *
 * Like Deno's and Bun's `fetch`, it honours `HTTPS_PROXY`, `HTTP_PROXY` and
 * `NO_PROXY` (read at request time; see `proxy_settings.ts` for which proxy a
 * URL takes). An http URL is requested from the proxy in absolute form
 * (`POST http://host:port/path`); an https URL through a `CONNECT` tunnel, with
 * TLS to the endpoint inside it. Credentials in the proxy URL go to the proxy
 * only, as `Proxy-Authorization`. `node:net` and `node:tls` load only then.
 *
 * @module
 */
import { type Fetch, type FetchResponse, RequestNotBuilt } from "./host.ts";
import { type DnsGuardModule, guardedLookup, type Lookup } from "./dns_guard.ts";
import { proxyRoute, type ProxyServer, type ReadEnvironment } from "./proxy_settings.ts";

/** The built-in modules the fetch loads, each when first needed. */
export type NodeFetchModule = "node:http" | "node:https" | "node:stream" | "node:net" | "node:tls" | DnsGuardModule;

/** What `http.request` takes from us. */
interface RequestOptions {
  method: string;
  headers: Record<string, string | number>;
  signal: AbortSignal;
  /** `false`: a fresh agent, one connection, closed after the request. */
  agent?: false | undefined;
  /** Looks the host up (`dns_guard.ts`: never waits on a DNS server that does not answer). */
  lookup?: Lookup | undefined;
  /** The request target, here an absolute URL (a request to a proxy). */
  path?: string | undefined;
  /** Makes the connection (with no agent): here, to or through a proxy. */
  createConnection?: (options: unknown, done: (error: Error | null, socket?: NodeSocket) => void) => undefined;
}

/** The part of `node:http` / `node:https` we use. */
interface NodeHttp {
  request(url: URL, options: RequestOptions): NodeRequest;
}

interface NodeRequest {
  on(event: "response", listener: (response: NodeResponse) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  end(body: string): unknown;
}

interface NodeResponse {
  statusCode?: number | undefined;
  headers: Record<string, string | string[] | undefined>;
  destroy(): unknown;
}

/** The part of `node:stream` we use: a Node.js stream as a web one, for the rare answer that is read. */
interface NodeStream {
  Readable: { toWeb(stream: NodeResponse): ReadableStream<Uint8Array> };
}

/** The part of a `net.Socket` / `tls.TLSSocket` we use. */
interface NodeSocket {
  write(data: string): unknown;
  destroy(error?: Error): unknown;
  unshift(chunk: Uint8Array): unknown;
  pause(): unknown;
  on(event: "data", listener: (chunk: NodeBuffer) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "close" | "end", listener: () => void): unknown;
  once(event: "connect" | "secureConnect", listener: () => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
}

/** A `Buffer`, as a socket's data arrives. */
interface NodeBuffer extends Uint8Array {
  toString(encoding?: "latin1"): string;
}

/** The part of `node:net` we use. */
interface NodeNet {
  connect(options: { host: string; port: number; lookup: Lookup }): NodeSocket;
  isIP(host: string): number;
}

/** The part of `node:tls` we use. */
interface NodeTls {
  connect(
    options: { host?: string; port?: number; socket?: NodeSocket; servername?: string; lookup?: Lookup },
  ): NodeSocket;
}

/**
 * Builds the Node.js fetch.
 *
 * @param load Loads a built-in module (`process.getBuiltinModule`).
 * @param env Reads an environment variable, at request time: the proxy settings (`HTTPS_PROXY`, `HTTP_PROXY`,
 *   `NO_PROXY` and their lowercase spellings).
 * @returns A fetch for deliveries.
 * @example
 * ```ts ignore
 * import process from "node:process";
 * import { nodeFetch } from "./node_fetch.ts";
 * const fetch = nodeFetch((name) => process.getBuiltinModule(name), (name) => process.env[name]);
 * ```
 */
export function nodeFetch(load: (name: NodeFetchModule) => unknown, env: ReadEnvironment): Fetch {
  // Buffer.byteLength: the body's length, without encoding it a second time.
  const { Buffer } = globalThis as unknown as { Buffer: { byteLength(text: string): number } };
  return (url, init) =>
    new Promise<FetchResponse>((resolve, reject) => {
      const target = new URL(url);
      const route = proxyRoute(target, env);
      if (route.kind === "unusable") return reject(new RequestNotBuilt(route.reason));
      const https = target.protocol === "https:";
      // The endpoint's host, or the proxy's, is looked up only once DNS is seen to answer (dns_guard.ts).
      const lookup = guardedLookup(load, env, init.signal);
      const options: RequestOptions = {
        method: init.method,
        // An answer is read as it comes (OTLP's partial success): none in a coding node:http would leave undecoded.
        headers: { ...init.headers, "content-length": Buffer.byteLength(init.body), "accept-encoding": "identity" },
        signal: init.signal,
      };
      if (route.kind === "direct") {
        // No agent: one connection per request, closed after it, so no pooled socket outlives the delivery.
        options.agent = false;
        options.lookup = lookup;
      } else {
        // No agent either: with `createConnection` set and `agent` unset, node:http uses the one socket it is
        // given, and closes it after the request.
        const { proxy } = route;
        const signal = init.signal;
        options.createConnection = (_, done) => {
          const socket = https
            ? tunnel(load, lookup, proxy, target, signal)
            : connectToProxy(load, lookup, proxy, signal);
          socket.then((opened) => done(null, opened), (error: Error) => done(error));
          return undefined;
        };
        if (!https) {
          // The absolute form a proxy is asked for: never the credentials (RFC 9110, 4.2.4) or the fragment.
          options.path = `${target.protocol}//${target.host}${target.pathname}${target.search}`;
          if (proxy.authorization) options.headers["proxy-authorization"] = proxy.authorization;
        }
      }
      const request = (load(https ? "node:https" : "node:http") as NodeHttp).request(target, options);
      request.on("error", reject);
      request.on("response", (response) => {
        const header = (name: string) => response.headers[name.toLowerCase()];
        resolve({
          status: response.statusCode ?? 0,
          headers: {
            get: (name) => {
              const value = header(name);
              return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
            },
          },
          body: {
            cancel: () => {
              response.destroy();
              return Promise.resolve();
            },
            getReader: () => (load("node:stream") as NodeStream).Readable.toWeb(response).getReader(),
          },
        });
      });
      request.end(init.body);
    });
}

/** The most bytes of a proxy's answer to `CONNECT` we read before giving up on it. */
const MAX_CONNECT_ANSWER = 16_384;

/**
 * Opens a connection to the proxy: TCP, or TLS for an `https:` proxy. Settles once it is usable; destroyed,
 * and failed, when the signal aborts first.
 */
function connectToProxy(
  load: (name: NodeFetchModule) => unknown,
  lookup: Lookup,
  proxy: ProxyServer,
  signal: AbortSignal,
): Promise<NodeSocket> {
  const net = load("node:net") as NodeNet;
  const { hostname: host, port } = proxy;
  return settleWith(signal, (settle) => {
    const socket = proxy.protocol === "https:"
      ? (load("node:tls") as NodeTls).connect({ host, port, servername: net.isIP(host) ? "" : host, lookup })
      : net.connect({ host, port, lookup });
    socket.once(proxy.protocol === "https:" ? "secureConnect" : "connect", () => settle(socket));
    return socket;
  });
}

/**
 * Opens a `CONNECT` tunnel to the target's host and port through the proxy, then TLS to the target inside it.
 * Any answer of the proxy but a 2xx is a network error.
 */
async function tunnel(
  load: (name: NodeFetchModule) => unknown,
  lookup: Lookup,
  proxy: ProxyServer,
  target: URL,
  signal: AbortSignal,
): Promise<NodeSocket> {
  const raw = await connectToProxy(load, lookup, proxy, signal);
  const authority = `${target.hostname}:${target.port || 443}`;
  await settleWith(signal, (settle, fail) => {
    let answer = "";
    const onData = (chunk: NodeBuffer) => {
      answer += chunk.toString("latin1");
      const end = answer.indexOf("\r\n\r\n");
      if (end < 0) {
        if (answer.length > MAX_CONNECT_ANSWER) fail(new Error("the proxy's answer to CONNECT is too long"));
        return;
      }
      raw.removeListener("data", onData);
      raw.pause();
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);
      if (status < 200 || status > 299) {
        return fail(new Error(`the proxy answered CONNECT with ${status || "garbage"}`));
      }
      // Bytes past the answer belong to the tunnel (none, as the endpoint speaks after our TLS hello).
      const rest = chunk.subarray(chunk.length - (answer.length - end - 4));
      if (rest.length > 0) raw.unshift(rest);
      settle(undefined);
    };
    raw.on("data", onData);
    raw.write(
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n` +
        (proxy.authorization ? `Proxy-Authorization: ${proxy.authorization}\r\n` : "") + "\r\n",
    );
    return raw;
  });
  const net = load("node:net") as NodeNet;
  const host = target.hostname.replace(/^\[(.*)\]$/, "$1");
  return settleWith(signal, (settle) => {
    // `host` too: the certificate is checked against it, else against the proxy's host (the socket's).
    const servername = net.isIP(host) ? "" : host;
    const secure = (load("node:tls") as NodeTls).connect({ socket: raw, host, servername });
    // Closing the TLS socket (node:http does after the response) closes the tunnel under it.
    secure.on("close", () => raw.destroy());
    secure.once("secureConnect", () => settle(secure));
    return secure;
  });
}

/**
 * Runs one step on a socket: resolves with what the step settles with; rejects, and destroys the socket (and so
 * everything under it), on the socket's error or close, or when the signal aborts, whichever comes first.
 */
function settleWith<T>(
  signal: AbortSignal,
  start: (settle: (value: T) => void, fail: (error: Error) => void) => NodeSocket,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let socket: NodeSocket | undefined;
    // A property, not a variable: the callbacks change it, which the type checker's narrowing does not see.
    const state: { outcome: "pending" | "settled" | "failed" } = { outcome: "pending" };
    const stop = () => {
      signal.removeEventListener("abort", onAbort);
      socket?.removeListener("error", fail);
      socket?.removeListener("close", onClose);
    };
    const settle = (value: T) => {
      if (state.outcome !== "pending") return;
      state.outcome = "settled";
      stop();
      resolve(value);
    };
    function fail(error: Error) {
      if (state.outcome !== "pending") return;
      state.outcome = "failed";
      stop();
      socket?.destroy();
      reject(error);
    }
    const onAbort = () => fail(new Error("aborted"));
    const onClose = () => fail(new Error("the connection closed"));
    if (signal.aborted) return reject(new Error("aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      socket = start(settle, fail);
    } catch (error) {
      return fail(error instanceof Error ? error : new Error(String(error)));
    }
    // An error after this step is the next owner's to report (node:http's, or the next step's): never uncaught.
    socket.on("error", () => {});
    if (state.outcome === "failed") return void socket.destroy();
    if (state.outcome === "pending") {
      socket.on("error", fail);
      socket.on("close", onClose);
    }
  });
}
