import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { createClient } from 'redis';
import { fromChatCompletion, retryWithBackoff, untilDone } from 'rxjs-llm-stream';
import { createRelay, memoryRelayStore, redisRelayStore, type Relay, type RedisClientLike } from 'rxjs-llm-stream/server';

/**
 * One relay per process. With REDIS_URL set, the logs live in Redis Streams,
 * so any instance can serve a reconnecting browser; otherwise in memory.
 */
@Injectable()
export class RelayService implements OnModuleDestroy {
  private relay: Relay = createRelay({ store: memoryRelayStore() });
  private redis: ReturnType<typeof createClient> | undefined;

  async onModuleInit(): Promise<void> {
    if (!process.env.REDIS_URL) return;
    this.redis = createClient({ url: process.env.REDIS_URL });
    await this.redis.connect();
    this.relay = createRelay({ store: redisRelayStore(this.redis as unknown as RedisClientLike) });
  }

  onModuleDestroy(): void {
    this.relay.stop();
    this.redis?.destroy();
  }

  /** Starts the provider request for `id` (once): retried on the provider hop, detached from the browser. */
  start(id: string, question: string): Promise<boolean> {
    const answer$ = fromChatCompletion({
      baseURL: process.env.PROVIDER_URL ?? 'https://api.openai.com/v1',
      apiKey: process.env.PROVIDER_API_KEY,
      body: { model: process.env.MODEL ?? 'gpt-4o-mini', messages: [{ role: 'user', content: question }] },
    }).pipe(untilDone(), retryWithBackoff({ maxRetries: 5 }));
    return this.relay.start(id, answer$);
  }

  has(id: string): Promise<boolean> {
    return this.relay.has(id);
  }

  events(id: string, lastEventId: string | undefined) {
    return this.relay.events(id, lastEventId);
  }
}
