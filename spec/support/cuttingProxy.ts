import { createServer, connect, type Socket } from 'node:net';

/** One TCP connection through the proxy: the requests it carried and the response bytes it passed on. */
export interface ProxiedConnection {
  /** Request lines (`GET /path?query HTTP/1.1`) seen from the client, in order. */
  requests: string[];
  /** Where each of `requests` stands in the proxy's `requests` (all connections, in arrival order). */
  order: number[];
  /** The response bytes passed to the client, in order. */
  passed: Buffer[];
  /** Whether the proxy cut this connection. */
  cut: boolean;
  /** Whether the connection is closed (by either side). */
  closed: boolean;
}

export interface CuttingProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  connections: ProxiedConnection[];
  /** Every request line, in arrival order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `target` that cuts connections on
 * script: connection `i` (0, 1, ...) is destroyed, both ways, once
 * `cutAfter[i]` response bytes have passed, or right after the given
 * occurrence of a text in them (the bytes past the cut in the same read are
 * dropped); connections past the script's end pass everything.
 */
/** Where to cut one connection: after this many response bytes, or right after the `occurrence`-th `text` in them. */
export type Cut = number | { text: string; occurrence: number } | undefined;

export async function startCuttingProxy(target: { host: string; port: number }, cutAfter: readonly Cut[]): Promise<CuttingProxy> {
  const connections: ProxiedConnection[] = [];
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const index = connections.length;
    const rule = cutAfter[index];
    let limit = typeof rule === 'number' ? rule : undefined;
    let seen = '';
    const connection: ProxiedConnection = { requests: [], order: [], passed: [], cut: false, closed: false };
    connections.push(connection);
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let passed = 0;
    const cut = () => {
      connection.cut = true;
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      for (const match of chunk.toString('latin1').matchAll(/(?:^|\r\n)((?:GET|POST|PUT|HEAD|DELETE) \S+ HTTP\/1\.[01])/g)) {
        connection.requests.push(match[1]!);
        connection.order.push(requests.push(match[1]!) - 1);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (connection.cut) return;
      if (typeof rule === 'object' && limit === undefined) {
        // Latin-1 keeps one character per byte, so an index is a byte count.
        seen += chunk.toString('latin1');
        let at = -1;
        for (let n = 0; n < rule.occurrence; n++) {
          at = seen.indexOf(rule.text, at + 1);
          if (at === -1) break;
        }
        if (at !== -1) limit = at + rule.text.length;
        else if (seen.length > 1 << 20) seen = '';
      }
      if (limit !== undefined && passed + chunk.length >= limit) {
        const part = chunk.subarray(0, limit - passed);
        passed = limit;
        connection.passed.push(part);
        client.write(part, cut);
        return;
      }
      passed += chunk.length;
      connection.passed.push(chunk);
      client.write(chunk);
    });
    const end = () => {
      connection.closed = true;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    connections,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
