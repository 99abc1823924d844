import { HttpError } from '../errors.js';
import { cleanMessage } from '../internal/errorObject.js';
import { origin, type ErrorContext } from './responseErrors.js';

/** Redirects followed before the 3xx response itself is reported. */
export const MAX_REDIRECTS = 5;

/**
 * The only request headers sent on after a redirect to ANOTHER origin
 * (lower-case names). Everything else (`Authorization`, `x-api-key`,
 * `x-goog-api-key`, `api-key`, `OpenAI-Organization`, cookies, any custom
 * header) stays behind: an allowlist, so a header nobody thought of is
 * dropped rather than leaked.
 */
export const CROSS_ORIGIN_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'accept-language',
  'cache-control',
  'content-language',
  'content-type',
  'user-agent',
  'last-event-id',
  'anthropic-version',
  'anthropic-beta',
  'openai-beta',
]);

/** `headers` without those that may not go to another origin. */
export function crossOriginHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => CROSS_ORIGIN_HEADERS.has(name.toLowerCase())));
}

/**
 * Where a 307/308 may lead, or the typed, non-retryable `HttpError` saying
 * why not: an unreadable `Location`, a target that is not http(s), or a
 * downgrade from https to http (the request would travel in cleartext).
 */
export function redirectTarget(context: ErrorContext, from: string, status: number, location: string): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new HttpError(
      status,
      `${context.source}: HTTP ${status} from ${origin(from)} with a Location header that is not a valid URL (${cleanMessage(location.slice(0, 200), context.secrets)}); the redirect was not followed.`,
    );
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new HttpError(
      status,
      `${context.source}: HTTP ${status} from ${origin(from)} redirects to a ${cleanMessage(next.protocol, context.secrets)} URL; only http(s) redirects are followed.`,
    );
  }
  if (new URL(from).protocol === 'https:' && next.protocol === 'http:') {
    throw new HttpError(
      status,
      `${context.source}: HTTP ${status} from ${origin(from)} redirects to ${next.origin}, from https to http; the request would travel unencrypted, so it was not sent.`,
    );
  }
  return next;
}

/**
 * The error for a browser's `opaqueredirect`: `redirect: 'manual'` hides the
 * target from scripts, and letting the browser follow would re-send the whole
 * request (credentials included) on its own terms. Nothing is re-sent.
 */
export function hiddenRedirect(context: ErrorContext, url: string): HttpError {
  return new HttpError(
    0,
    `${context.source}: ${origin(url)} answered with a redirect, which the browser hides from scripts; the request was not sent again, so that no credential follows it. ` +
      'Configure the final URL (where the redirect leads: see the network panel) as the base URL.',
  );
}
