import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import {
  accumulateContent,
  fromChatCompletion,
  untilDone,
  withStreamStatus,
  type ChatCompletionSnapshot,
  type StreamState,
} from 'rxjs-llm-stream';
import { fromHttpClient } from 'rxjs-llm-stream/angular';

/** Streams answers from an OpenAI-compatible API, through HttpClient so the interceptors apply. */
@Injectable({ providedIn: 'root' })
export class ChatService {
  private readonly fetch = fromHttpClient(inject(HttpClient));
  /** Same origin: a backend (or the dev server's proxy) forwards /v1 to the model provider. */
  private readonly baseURL = `${location.origin}/v1`;

  /** The UI states of one answer: connecting, streaming (with the text so far), retrying, done, failed or stopped. */
  ask(question: string, stop: Observable<unknown>): Observable<StreamState<ChatCompletionSnapshot>> {
    return fromChatCompletion({
      baseURL: this.baseURL,
      fetch: this.fetch,
      body: { model: 'mock-model', messages: [{ role: 'user', content: question }] },
    }).pipe(
      untilDone(),
      accumulateContent(),
      withStreamStatus({ retry: { maxRetries: 3, initialDelay: 1000, jitter: 'none' }, errorsAsState: true, stop }),
    );
  }
}
