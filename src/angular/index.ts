export { fromHttpClient, HTTP_EVENT_TYPE } from './fromHttpClient.js';
export type {
  HttpClientLike,
  HttpClientRequestOptions,
  HttpEventLike,
  HttpHeadersLike,
  HttpSubscribable,
} from './fromHttpClient.js';
