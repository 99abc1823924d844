import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import {
  accumulateContent,
  fromChatCompletion,
  parseJsonAsItStreams,
  untilDone,
  withStreamStatus,
  type ChatCompletionSnapshot,
  type JsonSnapshot,
  type StreamState,
} from 'rxjs-llm-stream';
import { fromHttpClient } from 'rxjs-llm-stream/angular';
import * as z from 'zod/mini';
import { Trip } from './trip';

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

  /**
   * A structured answer: the model writes a `Trip` as JSON (`response_format`),
   * and every state carries `snapshot.partial`, the fields parsed so far, so a
   * form fills in while the answer streams. When the stream ends, the schema
   * validates the whole answer: the last snapshot carries `value`, or the
   * state is `failed` with a `SchemaValidationError`.
   */
  planTrip(request: string, stop: Observable<unknown>): Observable<StreamState<JsonSnapshot<Trip>>> {
    return fromChatCompletion({
      baseURL: this.baseURL,
      fetch: this.fetch,
      body: {
        model: 'mock-model',
        messages: [
          { role: 'system', content: 'Suggest one trip. Answer with the JSON object the schema describes.' },
          { role: 'user', content: request },
        ],
        response_format: { type: 'json_schema', json_schema: { name: 'trip', strict: true, schema: z.toJSONSchema(Trip) } },
      },
    }).pipe(
      untilDone(),
      accumulateContent(),
      parseJsonAsItStreams({ schema: Trip }),
      withStreamStatus({ retry: { maxRetries: 3, initialDelay: 1000, jitter: 'none' }, errorsAsState: true, stop }),
    );
  }
}
