/**
 * A minimal `fetch` for Node.js on `node:http` and `node:https`: the first
 * call of Node's own `fetch` loads undici, which costs a CLI about 50 ms and
 * 30 MB. It does exactly what a delivery needs: one POST with a string body,
 * never following redirects, aborted by a signal, the body cancelled (or, for
 * an answer that says something, read as a web stream).
 *
 * @module
 */
import type { Fetch, FetchResponse } from "./host.ts";

/** The part of `node:http` / `node:https` we use. */
interface NodeHttp {
  request(
    url: URL,
    options: { method: string; headers: Record<string, string | number>; signal: AbortSignal; agent: false },
  ): NodeRequest;
}

interface NodeRequest {
  on(event: "response", listener: (response: NodeResponse) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  end(body: string): unknown;
}

interface NodeResponse {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  destroy(): unknown;
}

/** The part of `node:stream` we use: a Node.js stream as a web one, for the rare answer that is read. */
interface NodeStream {
  Readable: { toWeb(stream: NodeResponse): ReadableStream<Uint8Array> };
}

/**
 * Builds the Node.js fetch.
 *
 * @param load Loads a built-in module (`process.getBuiltinModule`).
 * @returns A fetch for deliveries.
 * @example
 * ```ts ignore
 * import process from "node:process";
 * import { nodeFetch } from "./node_fetch.ts";
 * const fetch = nodeFetch((name) => process.getBuiltinModule(name));
 * ```
 */
export function nodeFetch(load: (name: "node:http" | "node:https" | "node:stream") => unknown): Fetch {
  // Buffer.byteLength: a TextEncoder would cost ~5 ms on first use.
  const { Buffer } = globalThis as unknown as { Buffer: { byteLength(text: string): number } };
  return (url, init) =>
    new Promise<FetchResponse>((resolve, reject) => {
      const target = new URL(url);
      const http = load(target.protocol === "https:" ? "node:https" : "node:http") as NodeHttp;
      // No agent: one connection per request, closed after it, so no pooled socket outlives the delivery.
      const request = http.request(target, {
        method: init.method,
        headers: { ...init.headers, "content-length": Buffer.byteLength(init.body) },
        signal: init.signal,
        agent: false,
      });
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
