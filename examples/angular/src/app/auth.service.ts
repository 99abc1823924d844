import { Injectable, signal } from '@angular/core';

/** Holds the user's API token; in a real app, your login flow sets it. */
@Injectable({ providedIn: 'root' })
export class AuthService {
  readonly token = signal(new URLSearchParams(location.search).get('token') ?? 'demo-token');
  private requests = 0;

  /** 1, 2, 3, ...: one per request the interceptor handles. */
  nextRequestNumber(): number {
    return ++this.requests;
  }
}
