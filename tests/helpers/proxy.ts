/**
 * A forward HTTP proxy for tests, as a company network puts in front of the
 * internet: plain-HTTP requests in absolute form (`POST http://host/path`),
 * and `CONNECT host:port` tunnels for HTTPS. Every host it is asked for is
 * served by one local port, so an endpoint under a name that does not resolve
 * (`telemetry.invalid`) is reachable only through the proxy. It records what
 * it was asked for, and with which headers; it can refuse tunnels, never
 * answer, or be spoken to over TLS (an `https:` proxy URL).
 *
 * @module
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";

/** How the proxy behaves. */
export interface ProxyOptions {
  /** Answer `CONNECT` with this status (e.g. 403) instead of opening the tunnel. */
  refuseConnect?: number | undefined;
  /** Never answer anything: accept connections, read, stay silent. */
  hang?: boolean | undefined;
  /** A PEM key and certificate: clients speak TLS to the proxy (an `https:` proxy URL). */
  tls?: { key: string; cert: string } | undefined;
}

/** One request the proxy received. */
export interface ProxiedRequest {
  /** `POST http://…` or `CONNECT host:port`. */
  line: string;
  /** The request's headers, names in lowercase. */
  headers: Record<string, string>;
}

/** A running proxy. */
export class TestProxy {
  /** What clients asked for, in order: `POST http://…` or `CONNECT host:port`. */
  readonly asked: string[] = [];
  /** What clients asked for, with the headers. */
  readonly requests: ProxiedRequest[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #scheme: "http" | "https";
  readonly port: number;

  private constructor(server: Server, port: number, scheme: "http" | "https") {
    this.#server = server;
    this.#scheme = scheme;
    this.port = port;
  }

  /**
   * Starts a proxy on 127.0.0.1 that sends every request and tunnel to `targetPort` on 127.0.0.1.
   *
   * @param targetPort The local port that serves every host.
   * @param options Refuse tunnels, hang, or speak TLS.
   */
  static async start(targetPort: number, options: ProxyOptions = {}): Promise<TestProxy> {
    const server = options.tls ? createTlsServer(options.tls) : createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const proxy = new TestProxy(server, address.port, options.tls ? "https" : "http");
    server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
      proxy.#accept(socket, targetPort, options);
    });
    return proxy;
  }

  /**
   * The proxy's URL, for HTTP_PROXY and HTTPS_PROXY.
   *
   * @param credentials `user:password`, percent-encoded as a URL carries them.
   */
  url(credentials?: string): string {
    return `${this.#scheme}://${credentials ? `${credentials}@` : ""}127.0.0.1:${this.port}`;
  }

  /** How many connections are open right now, from clients and to the target. */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Stops the proxy and cuts every connection. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {});
  }

  #accept(client: Socket, targetPort: number, options: ProxyOptions): void {
    this.#track(client);
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      // The request's head may arrive in pieces: wait for all of it, and keep what follows it.
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      client.removeListener("data", onData);
      client.pause();
      const [line, ...fields] = buffer.subarray(0, end).toString("latin1").split("\r\n");
      const rest = buffer.subarray(end + 4);
      const headers: Record<string, string> = {};
      for (const field of fields) {
        const colon = field.indexOf(":");
        headers[field.slice(0, colon).trim().toLowerCase()] = field.slice(colon + 1).trim();
      }
      const [method, target] = line.split(" ");
      this.asked.push(`${method} ${target}`);
      this.requests.push({ line: `${method} ${target}`, headers });
      if (options.hang) return;
      if (method === "CONNECT") return this.#tunnel(client, targetPort, rest, options);
      this.#forward(client, targetPort, line, fields, rest);
    };
    client.on("data", onData);
  }

  #tunnel(client: Socket, targetPort: number, rest: Buffer, options: ProxyOptions): void {
    if (options.refuseConnect) {
      const status = options.refuseConnect;
      client.end(`HTTP/1.1 ${status} Refused\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      return;
    }
    const upstream = this.#upstream(client, targetPort);
    upstream.once("connect", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream).pipe(client);
    });
  }

  /** An absolute-form request, passed on in origin form, without the headers meant for the proxy. */
  #forward(client: Socket, targetPort: number, line: string, fields: string[], rest: Buffer): void {
    const [method, target, version] = line.split(" ");
    let path: string;
    try {
      const url = new URL(target);
      path = url.pathname + url.search;
    } catch {
      client.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      return;
    }
    const kept = fields.filter((field) => !/^proxy-(authorization|connection)\s*:/i.test(field));
    const head = [`${method} ${path} ${version}`, ...kept].join("\r\n") + "\r\n\r\n";
    const upstream = this.#upstream(client, targetPort);
    upstream.write(Buffer.concat([Buffer.from(head, "latin1"), rest]));
    client.pipe(upstream).pipe(client);
  }

  #upstream(client: Socket, targetPort: number): Socket {
    const upstream = connect(targetPort, "127.0.0.1");
    this.#track(upstream);
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    return upstream;
  }
}
