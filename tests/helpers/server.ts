/**
 * A loopback HTTP server for tests, on raw TCP so that it can misbehave in
 * every way a real endpoint can: any status, `Retry-After`, redirects, a delay,
 * hanging forever, closing the socket mid-response, or answering garbage.
 * It records every request it receives.
 *
 * @module
 */
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";

/** How to answer one request. */
export interface Reply {
  /** HTTP status. @default {200} */
  status?: number | undefined;
  /** Extra response headers. */
  headers?: Record<string, string> | undefined;
  /** Response body: text, or bytes (an encoded one). @default {""} */
  body?: string | Uint8Array | undefined;
  /** Wait this long before answering. */
  delayMs?: number | undefined;
  /** Never answer. */
  hang?: boolean | undefined;
  /** Close the connection without a response (`"before"`) or halfway through the body (`"mid-body"`). */
  destroy?: "before" | "mid-body" | undefined;
  /** Send the head and half the body, then nothing more (the connection stays open until the server closes). */
  stallMidBody?: boolean | undefined;
  /** Send these bytes instead of an HTTP response, then close. */
  raw?: string | undefined;
}

/** A request the server received. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Decides the reply to a request; the number counts requests from 0. */
export type Responder = (request: ReceivedRequest, index: number) => Reply;

/** A running test server. */
export class TestServer {
  readonly requests: ReceivedRequest[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #script: Reply[] = [];
  #responder: Responder;
  readonly #scheme: "http" | "https";
  readonly port: number;

  private constructor(server: Server, port: number, responder: Responder, scheme: "http" | "https") {
    this.#server = server;
    this.#scheme = scheme;
    this.port = port;
    this.#responder = responder;
  }

  /**
   * Starts a server on 127.0.0.1 with an OS-chosen port.
   *
   * @param responder Answers requests that no scripted reply is left for. @default {200 OK}
   * @param tls A PEM key and certificate: serve HTTPS instead of HTTP.
   * @param port The port, e.g. that of an endpoint that was down and comes back. @default {0: OS-chosen}
   */
  static async start(
    responder: Responder = () => ({ status: 200 }),
    tls?: { key: string; cert: string },
    port = 0,
  ): Promise<TestServer> {
    const server = tls ? createTlsServer(tls) : createServer();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const test = new TestServer(server, address.port, responder, tls ? "https" : "http");
    server.on(tls ? "secureConnection" : "connection", (socket: Socket) => test.#accept(socket));
    return test;
  }

  /** The URL of a path on this server. */
  url(path = "/events"): string {
    return `${this.#scheme}://127.0.0.1:${this.port}${path}`;
  }

  /** Queues replies for the next requests, in order; then the responder answers again. */
  reply(...replies: Reply[]): this {
    this.#script.push(...replies);
    return this;
  }

  /** Replaces the responder. */
  respond(responder: Responder): this {
    this.#responder = responder;
    return this;
  }

  /** The events of every envelope received, in order. */
  events(): { name: string; ts: string; parameters: Record<string, unknown> }[] {
    return this.requests.flatMap((request) => {
      try {
        return JSON.parse(request.body).events ?? [];
      } catch {
        return [];
      }
    });
  }

  /** Stops the server and cuts every connection, hanging ones included. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {});
    let buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const parsed = parseRequest(buffer);
        if (parsed === undefined) return;
        buffer = buffer.subarray(parsed.length);
        const index = this.requests.length;
        this.requests.push(parsed.request);
        const reply = this.#script.shift() ?? this.#responder(parsed.request, index);
        this.#answer(socket, reply);
      }
    });
  }

  #answer(socket: Socket, reply: Reply): void {
    if (reply.hang) return;
    const send = () => {
      if (reply.destroy === "before") return void socket.destroy();
      if (reply.raw !== undefined) return void socket.end(reply.raw);
      const body = Buffer.from(reply.body ?? "");
      const status = reply.status ?? 200;
      // One request per connection: a client may silently retry a request on a reused connection that
      // closes, which would hide the failure a test asked for.
      const headers = { "content-length": String(body.length), connection: "close", ...reply.headers };
      const head = [`HTTP/1.1 ${status} ${status < 400 ? "OK" : "Error"}`]
        .concat(Object.entries(headers).map(([name, value]) => `${name}: ${value}`))
        .join("\r\n");
      if (reply.destroy === "mid-body" || reply.stallMidBody) {
        socket.write(`${head}\r\n\r\n`);
        socket.write(body.subarray(0, body.length >> 1));
        if (reply.destroy) setTimeout(() => socket.destroy(), 10);
        return;
      }
      socket.end(Buffer.concat([Buffer.from(`${head}\r\n\r\n`), body]));
    };
    if (!reply.delayMs) return send();
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      send();
    }, reply.delayMs);
    this.#timers.add(timer);
  }
}

/** Parses one HTTP/1.1 request with a Content-Length or chunked body; `undefined` until it is complete. */
function parseRequest(buffer: Buffer): { request: ReceivedRequest; length: number } | undefined {
  const end = buffer.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [requestLine, ...lines] = buffer.subarray(0, end).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const [method, path] = requestLine.split(" ");
  if (headers["transfer-encoding"] === "chunked") {
    // Chunks: `<hex size>\r\n<bytes>\r\n`, until a chunk of size 0 (some clients send bodies this way).
    const chunks: Buffer[] = [];
    for (let at = end + 4;;) {
      const lineEnd = buffer.indexOf("\r\n", at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buffer.subarray(at, lineEnd).toString("latin1"), 16);
      if (buffer.length < lineEnd + 2 + size + 2) return undefined;
      if (size === 0) {
        const body = Buffer.concat(chunks).toString("utf8");
        return { request: { method, path, headers, body }, length: lineEnd + 4 };
      }
      chunks.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const length = end + 4 + Number(headers["content-length"] ?? 0);
  if (buffer.length < length) return undefined;
  return { request: { method, path, headers, body: buffer.subarray(end + 4, length).toString("utf8") }, length };
}

/**
 * Runs `fn` with a fresh test server, closed afterwards whatever happens.
 *
 * @param fn The test's body.
 */
export async function withServer(fn: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await TestServer.start();
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}
