import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { createClient } from 'redis';
import { createRelay, memoryRelayStore, RELAY, redisRelayStore, type Relay, type RedisClientLike } from 'rxjs-llm-stream/server';

/** The Redis connection, when REDIS_URL is set (a token of this app: the relay's store uses it). */
const REDIS = Symbol('redis');
type Redis = ReturnType<typeof createClient>;

/**
 * One relay per process, injected with `@Inject(RELAY)`. With REDIS_URL set,
 * the logs live in Redis Streams, so any instance serves a reconnecting
 * browser; otherwise in memory (one instance). On shutdown (SIGTERM, with
 * `app.enableShutdownHooks()`) the relay stops its provider requests first,
 * then the Redis connection closes.
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
        createRelay({ store: redis ? redisRelayStore(redis as unknown as RedisClientLike) : memoryRelayStore() }),
    },
  ],
  exports: [RELAY],
})
export class RelayModule implements OnApplicationShutdown {
  constructor(
    @Inject(RELAY) private readonly relay: Relay,
    @Inject(REDIS) private readonly redis: Redis | null,
  ) {}

  onApplicationShutdown(signal?: string): void {
    this.relay.stop();
    this.redis?.destroy();
    process.stdout.write(`relay stopped (${signal ?? 'close'})\n`);
  }
}
