/** What `npm run bench:relay` asks the redis-server itself: its CPU time, and who is connected. */
import { createClient } from 'redis';

export interface RedisMonitor {
  /** redis-server's CPU time so far (user + system, all threads), µs. */
  cpuMicros(): Promise<number>;
  /** Connections per client name (CLIENT LIST), the monitor's own left out; `''` counts unnamed ones. */
  connectionsByName(): Promise<Map<string, number>>;
  /** Forgets redis-server's counts per command (`CONFIG RESETSTAT`). */
  resetCommandStats(): Promise<void>;
  /** redis-server's counts per command since the last reset (`INFO commandstats`), most time first; scripts' own commands counted too. */
  commandStats(): Promise<CommandStat[]>;
  close(): Promise<void>;
}

/** One command's count and time in redis-server. */
export interface CommandStat {
  readonly command: string;
  readonly calls: number;
  readonly micros: number;
}

const MONITOR = 'bench-monitor';

export async function monitorRedis(url: string): Promise<RedisMonitor> {
  const client = createClient({ url, name: MONITOR });
  client.on('error', (error: Error) => process.stderr.write(`redis monitor: ${error.message}\n`));
  await client.connect();
  const field = (info: string, name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return {
    async cpuMicros() {
      const info = await client.info('cpu');
      return (field(info, 'used_cpu_user') + field(info, 'used_cpu_sys')) * 1e6;
    },
    async connectionsByName() {
      const list = (await client.sendCommand(['CLIENT', 'LIST'])) as string;
      const counts = new Map<string, number>();
      for (const line of list.split('\n')) {
        const name = / name=(\S*)/.exec(line)?.[1];
        if (name === undefined || name === MONITOR) continue;
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      return counts;
    },
    async resetCommandStats() {
      await client.sendCommand(['CONFIG', 'RESETSTAT']);
    },
    async commandStats() {
      const info = String(await client.sendCommand(['INFO', 'commandstats']));
      const stats = [...info.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)].map(([, command, calls, micros]) => ({ command: command!, calls: Number(calls), micros: Number(micros) }));
      return stats.filter((stat) => !/^(info|config\|resetstat|client\|list)$/.test(stat.command)).sort((x, y) => y.micros - x.micros);
    },
    async close() {
      client.destroy();
    },
  };
}
