import { startLoopbackServer, type LoopbackServer } from './loopbackServer';

/**
 * Call in a `describe` body: returns `serve(handle)`, which starts a loopback
 * server; every server it started is closed after each test of that block.
 */
export function serveEachTest(): (handle: Parameters<typeof startLoopbackServer>[0]) => Promise<LoopbackServer> {
  const servers: LoopbackServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  return async (handle) => {
    const server = await startLoopbackServer(handle);
    servers.push(server);
    return server;
  };
}
