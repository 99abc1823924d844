/**
 * `fromHttpClient`: a `fetch` over Angular's `HttpClient`, so streams go through your interceptors (no Angular dependency: structurally typed).
 *
 * @example
 * ```ts
 * import { fromHttpClient } from 'rxjs-llm-stream/angular';
 * ```
 *
 * @module rxjs-llm-stream/angular
 */
export { fromHttpClient } from './fromHttpClient.js';
export type {
  HttpClientLike,
  HttpClientRequestOptions,
  HttpEventLike,
  HttpHeadersLike,
  HttpSubscribable,
} from './fromHttpClient.js';
