/**
 * A TCP proxy on loopback that makes a local server look remote: every byte
 * takes `rttMs / 2` each way, and a connection's first bytes wait one more
 * round trip, as a TCP handshake costs a client before it can send. TLS passes
 * through untouched, so an HTTPS request pays what it pays over a WAN:
 * handshake, TLS, request and answer.
 *
 * @module
 */

/** A running proxy. */
export interface LatencyProxy {
  /** The port clients connect to. */
  readonly port: number;
  /** Stops listening and cuts every connection. */
  close(): void;
}

/**
 * Starts a proxy to `127.0.0.1:targetPort`.
 *
 * @param targetPort The real server's port.
 * @param rttMs The round trip time to add.
 * @returns The proxy.
 * @example
 * ```ts ignore
 * const proxy = startLatencyProxy(8443, 100);
 * // https://127.0.0.1:${proxy.port}/ now answers 100 ms per round trip later
 * ```
 */
export function startLatencyProxy(
  targetPort: number,
  rttMs: number,
): LatencyProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const pipe = async (from: Deno.Conn, to: Deno.Conn, firstDelayMs: number) => {
    // Chunks keep their order; each is released `delay` after it arrived.
    let ready = Promise.resolve();
    let first = true;
    try {
      for await (const chunk of from.readable) {
        const due = performance.now() + (first ? firstDelayMs : 0) + rttMs / 2;
        first = false;
        ready = ready.then(async () => {
          const wait = due - performance.now();
          if (wait > 0) {
            await new Promise((resolve) => setTimeout(resolve, wait));
          }
          await to.write(chunk).catch(() => 0);
        });
      }
      await ready;
    } catch {
      // A side went away.
    }
    try {
      await to.closeWrite();
    } catch {
      // Already closed.
    }
  };
  (async () => {
    for await (const client of listener) {
      open.add(client);
      Deno.connect({ hostname: "127.0.0.1", port: targetPort }).then(
        (server) => {
          open.add(server);
          const both = [pipe(client, server, rttMs), pipe(server, client, 0)];
          Promise.allSettled(both).then(() => {
            for (const conn of [client, server]) {
              open.delete(conn);
              try {
                conn.close();
              } catch {
                // Already closed.
              }
            }
          });
        },
      ).catch(() => client.close());
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    },
  };
}
