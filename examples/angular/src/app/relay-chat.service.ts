import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { firstValueFrom, type Observable } from 'rxjs';
import {
  accumulateContent,
  fromServerSentEvents,
  parseRelayedChunks,
  untilDone,
  withStreamStatus,
  type ChatCompletionSnapshot,
  type FetchLike,
  type StreamState,
} from 'rxjs-llm-stream';
import { fromHttpClient } from 'rxjs-llm-stream/angular';

/**
 * Streams answers from your own backend's relay (examples/nestjs-relay):
 * `POST /chat/:id` starts the answer there (once per id: the backend holds the
 * provider key and asks the provider once), `GET /chat/:id` reads it as SSE.
 * Both go through HttpClient, so the interceptors apply. After a cut, the
 * retry sends `Last-Event-ID` and the backend answers with the rest: the text
 * goes on, nothing is generated twice.
 */
@Injectable({ providedIn: 'root' })
export class RelayChatService {
  private readonly http = inject(HttpClient);
  private readonly fetch = fromHttpClient(this.http);

  ask(question: string, stop: Observable<unknown>): Observable<StreamState<ChatCompletionSnapshot>> {
    const id = crypto.randomUUID(); // the answer's id: unguessable, chosen here so a retry can name it
    // Relative URLs: same origin as the page (no `location.origin`, which does not exist under SSR).
    // Every attempt POSTs first (the first starts the answer, a later one finds it running: started
    // false), then reads the stream. Both happen inside the source's own request, so each retry of
    // withStreamStatus subscribes the source at once, in its retry chain: the chain keeps the last
    // event id and the retry sends it as Last-Event-ID.
    const startThenRead: FetchLike = async (url, init) => {
      await firstValueFrom(this.http.post<{ started: boolean }>(`/chat/${id}`, { question }));
      return this.fetch(url, init);
    };
    return fromServerSentEvents({ url: `/chat/${id}`, fetch: startThenRead }).pipe(
      parseRelayedChunks(), // the relay's events back into chunks; `done` ends, `restart` starts the text over
      untilDone(),
      accumulateContent(),
      withStreamStatus({ retry: { maxRetries: 3, initialDelay: 1000, jitter: 'none' }, errorsAsState: true, stop }),
    );
  }
}
