import { Body, Controller, Headers, HttpCode, Inject, NotFoundException, Param, Post, ServiceUnavailableException, Sse, type MessageEvent } from '@nestjs/common';
import { from, map, mergeMap, type Observable } from 'rxjs';
import { fromChatCompletion, retryWithBackoff, untilDone } from 'rxjs-llm-stream';
import { RELAY, type Relay } from 'rxjs-llm-stream/server';

@Controller('chat')
export class ChatController {
  // Relay is an interface (no value at run time), so Nest needs the token to find it.
  constructor(@Inject(RELAY) private readonly relay: Relay) {}

  /** Starts the answer under an id the browser chose (once); the browser then reads GET /chat/:id. */
  @Post(':id')
  @HttpCode(202)
  async start(@Param('id') id: string, @Body() body: { question?: unknown }): Promise<{ id: string; started: boolean }> {
    const question = typeof body?.question === 'string' ? body.question : '';
    const answer$ = fromChatCompletion({
      baseURL: process.env.PROVIDER_URL ?? 'https://api.openai.com/v1',
      apiKey: process.env.PROVIDER_API_KEY,
      body: { model: process.env.MODEL ?? 'gpt-4o-mini', messages: [{ role: 'user', content: question }] },
    }).pipe(untilDone(), retryWithBackoff({ maxRetries: 5 })); // retried on the provider hop, detached from the browser
    try {
      return { id, started: await this.relay.start(id, answer$) }; // false: it already runs (here or on another instance)
    } catch (error) {
      // RelayBusyError: this instance is at maxStreams or shutting down; the browser may try again (or another instance).
      if ((error as Error).name === 'RelayBusyError') throw new ServiceUnavailableException('Busy: try again shortly.');
      throw error;
    }
  }

  /**
   * The answer as SSE, from the start or, when the browser reconnects, after
   * its Last-Event-ID. Every event carries the relay's id, so NestJS does not
   * number them per connection (numbers that would mean nothing on the next one).
   */
  @Sse(':id')
  stream(@Param('id') id: string, @Headers('last-event-id') lastEventId?: string): Observable<MessageEvent> {
    return from(this.relay.has(id)).pipe(
      mergeMap((known) => {
        if (!known) throw new NotFoundException(`No answer ${id}.`);
        return this.relay.events(id, lastEventId);
      }),
      map((entry) => ({ id: entry.id, data: entry.data, ...(entry.event === undefined ? {} : { type: entry.event }) })),
    );
  }
}
