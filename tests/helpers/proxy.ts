/**
 * A forward HTTP proxy for tests, as a company network puts in front of the
 * internet: plain-HTTP requests in absolute form (`POST http://host/path`),
 * and `CONNECT host:port` tunnels for HTTPS. Every host it is asked for is
 * served by one local port, so an endpoint under a name that does not resolve
 * (`telemetry.invalid`) is reachable only through the proxy. It records what
 * it was asked for.
 *
 * @module
 */
import { connect, createServer, type Server, type Socket } from "node:net";

/** A running proxy. */
export class TestProxy {
  /** What clients asked for, in order: `POST http://…` or `CONNECT host:port`. */
  readonly asked: string[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly port: number;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  /**
   * Starts a proxy on 127.0.0.1 that sends every request and tunnel to `targetPort` on 127.0.0.1.
   *
   * @param targetPort The local port that serves every host.
   */
  static async start(targetPort: number): Promise<TestProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const proxy = new TestProxy(server, address.port);
    server.on("connection", (socket: Socket) => proxy.#accept(socket, targetPort));
    return proxy;
  }

  /** The proxy's URL, for HTTP_PROXY and HTTPS_PROXY. */
  url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Stops the proxy and cuts every connection. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, targetPort: number): void {
    this.#sockets.add(client);
    client.on("close", () => this.#sockets.delete(client));
    client.on("error", () => {});
    client.once("data", (first: Buffer) => {
      const head = first.toString("latin1");
      const [method, target] = head.slice(0, head.indexOf("\r\n")).split(" ");
      this.asked.push(`${method} ${target}`);
      const upstream = connect(targetPort, "127.0.0.1");
      this.#sockets.add(upstream);
      upstream.on("close", () => this.#sockets.delete(upstream));
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      if (method === "CONNECT") {
        upstream.once("connect", () => {
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
          client.pipe(upstream).pipe(client);
        });
        return;
      }
      // Absolute form to origin form: `POST http://host/path HTTP/1.1` becomes `POST /path HTTP/1.1`.
      const { pathname, search } = new URL(target);
      upstream.write(rewrite(first, target, pathname + search));
      client.pipe(upstream).pipe(client);
    });
  }
}

/** The first chunk of a request with its request target rewritten. */
function rewrite(chunk: Buffer, from: string, to: string): Buffer {
  const at = chunk.indexOf(from);
  return Buffer.concat([chunk.subarray(0, at), Buffer.from(to, "latin1"), chunk.subarray(at + from.length)]);
}
