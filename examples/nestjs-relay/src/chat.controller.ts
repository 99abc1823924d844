import { Body, Controller, Headers, HttpCode, NotFoundException, Param, Post, Sse, type MessageEvent } from '@nestjs/common';
import { from, map, mergeMap, type Observable } from 'rxjs';
import { RelayService } from './relay.service';

@Controller('chat')
export class ChatController {
  constructor(private readonly relay: RelayService) {}

  /** Starts an answer under an id the browser chose; the browser then reads GET /chat/:id. */
  @Post(':id')
  @HttpCode(202)
  async start(@Param('id') id: string, @Body() body: { question?: unknown }): Promise<{ id: string; started: boolean }> {
    const question = typeof body?.question === 'string' ? body.question : '';
    return { id, started: await this.relay.start(id, question) };
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
