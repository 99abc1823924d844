import type { HttpInterceptorFn } from '@angular/common/http';
import { inject } from '@angular/core';
import { AuthService } from './auth.service';

/**
 * Adds the bearer token to every API request, the chat stream included (it goes
 * through HttpClient). Interceptors run again on every retry, since each retry
 * is a new subscription and so a new request: read the token here, not once
 * per question, and a retry after a token refresh sends the fresh one.
 * `x-client-attempt` numbers the requests this interceptor saw (the e2e test
 * checks that a retry went through it again).
 */
export const authInterceptor: HttpInterceptorFn = (request, next) => {
  const auth = inject(AuthService);
  const token = auth.token();
  const headers: Record<string, string> = { 'x-client-attempt': String(auth.nextRequestNumber()) };
  if (token) headers['Authorization'] = `Bearer ${token}`;
  return next(request.clone({ setHeaders: headers }));
};
