import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { createClient } from 'redis';
import { createRelay, memoryRelayStore, RELAY, redisRelayStore, type Relay } from 'rxjs-llm-stream/server';

/** The Redis connection, when REDIS_URL is set (a token of this app: the relay's store uses it). */
const REDIS = Symbol('redis');
type Redis = ReturnType<typeof createClient>;

/**
 * One relay per process, injected with `@Inject(RELAY)`. With REDIS_URL set,
 * the logs live in Redis Streams, so any instance serves a reconnecting
 * browser; otherwise in memory (one instance). On shutdown (SIGTERM, with
 * `app.enableShutdownHooks()`) the relay closes first (drains, then hands its
 * streams over), then the Redis connection closes.
 */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      useFactory: async (): Promise<Redis | null> => (process.env.REDIS_URL ? createClient({ url: process.env.REDIS_URL }).connect() : null),
    },
    {
      provide: RELAY,
      inject: [REDIS],
      useFactory: (redis: Redis | null): Relay =>
        createRelay({ store: redis ? redisRelayStore(redis) : memoryRelayStore() }),
    },
  ],
  exports: [RELAY],
})
export class RelayModule implements OnApplicationShutdown {
  constructor(
    @Inject(RELAY) private readonly relay: Relay,
    @Inject(REDIS) private readonly redis: Redis | null,
  ) {}

  /** Hands over: running answers get up to 5 s to finish, then their leases go to another instance at once. */
  async onApplicationShutdown(signal?: string): Promise<void> {
    await this.relay.close({ drainMs: 5_000 });
    this.redis?.destroy();
    process.stdout.write(`relay closed (${signal ?? 'close'})\n`);
  }
}
