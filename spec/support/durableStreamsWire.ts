import type { CuttingProxy, ProxiedConnection } from './cuttingProxy';

/** The query of a proxied request line. */
export function queryOf(line: string): URLSearchParams {
  return new URL(line.split(' ')[1]!, 'http://x').searchParams;
}

/** The body bytes the client got of the last response on a connection (chunked transfer coding undone, a cut chunk kept in part). */
export function lastResponseBody(connection: ProxiedConnection): string {
  const all = Buffer.concat(connection.passed).toString('latin1');
  const start = all.lastIndexOf('HTTP/1.1 ');
  const headEnd = all.indexOf('\r\n\r\n', start);
  if (start === -1 || headEnd === -1) return '';
  const head = all.slice(start, headEnd).toLowerCase();
  let rest = all.slice(headEnd + 4);
  if (!head.includes('transfer-encoding: chunked')) return Buffer.from(rest, 'latin1').toString('utf8');
  let body = '';
  for (;;) {
    const line = rest.indexOf('\r\n');
    if (line === -1) break;
    const size = parseInt(rest.slice(0, line), 16);
    if (!(size > 0)) break;
    body += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 2 + size + 2);
  }
  return Buffer.from(body, 'latin1').toString('utf8');
}

/**
 * Where a client that lost `connection` must resume: the offset of the last
 * whole `control` event of an SSE answer, else the offset its last request
 * asked for (a body cut short moves nothing).
 */
export function expectedResume(connection: ProxiedConnection): string {
  const request = connection.requests.at(-1)!;
  const query = queryOf(request);
  if (query.get('live') !== 'sse') return query.get('offset')!;
  const body = lastResponseBody(connection);
  const controls = [...body.matchAll(/event: control\ndata: ?(\{.*?\})\n\n/g)];
  if (controls.length === 0) return query.get('offset')!;
  return (JSON.parse(controls.at(-1)![1]!) as { streamNextOffset: string }).streamNextOffset;
}

/** Checks, for every cut connection, that the next request asked for the offset the wire had delivered; returns how many. */
export function checkResumes(proxy: CuttingProxy): number {
  let checked = 0;
  for (const [index, connection] of proxy.connections.entries()) {
    if (!connection.cut || connection.requests.length === 0) continue;
    const next = proxy.requests[connection.order.at(-1)! + 1];
    expect({ connection: index, next: next && queryOf(next).get('offset') }).toEqual({ connection: index, next: expectedResume(connection) });
    // The resumed read is a catch-up read (a new subscription).
    expect(queryOf(next!).get('live')).toBeNull();
    checked++;
  }
  return checked;
}

