import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { Subject, switchMap, tap } from 'rxjs';
import type { StreamState, ChatCompletionSnapshot } from 'rxjs-llm-stream';
import { RelayChatService } from './relay-chat.service';

/** The second page (/relay): the same chat, through your backend's relay instead of an OpenAI-compatible API. */
@Component({
  selector: 'app-root',
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <main>
      <h1>rxjs-llm-stream <small>Angular · your backend's relay (NestJS) · Last-Event-ID</small></h1>
      <form (submit)="send($event)">
        <label>Question <input name="question" [value]="question()" (input)="question.set(value($event))" /></label>
        <button type="submit">Send</button>
        <button type="button" (click)="stop$.next()">Stop</button>
      </form>
      <p class="status" [attr.data-status]="state()?.status ?? 'idle'">{{ state()?.status ?? 'idle' }} (attempt {{ state()?.attempt ?? 0 }})</p>
      <div class="answer" aria-live="polite">{{ state()?.snapshot?.content }}</div>
      <ol class="log">
        @for (line of log(); track $index) {
          <li>{{ line }}</li>
        }
      </ol>
      <p><a href="/">The chat against an OpenAI-compatible API</a></p>
    </main>
  `,
  styles: `
    main { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d2433; }
    h1 { font-size: 1.4rem; } h1 small { font-weight: normal; color: #667; font-size: 0.9rem; }
    .answer { white-space: pre-wrap; min-height: 4rem; padding: 0.75rem; border: 1px solid #d0d5dd; border-radius: 6px; background: #f8f9fb; }
    .log { color: #667; font-size: 0.8rem; }
  `,
})
export class RelayPageComponent {
  private readonly chat = inject(RelayChatService);
  private readonly questions = new Subject<string>();
  protected readonly stop$ = new Subject<void>();
  protected readonly question = signal('Tell me about relays.');
  protected readonly log = signal<string[]>([]);

  protected readonly state = toSignal(
    this.questions.pipe(
      tap(() => this.log.set([])),
      switchMap((question) => this.chat.ask(question, this.stop$)),
      tap((state) => this.record(state)),
    ),
  );

  protected send(event: Event): void {
    event.preventDefault();
    this.questions.next(this.question());
  }

  protected value(event: Event): string {
    return (event.target as HTMLInputElement).value;
  }

  private record(state: StreamState<ChatCompletionSnapshot>): void {
    const last = this.log().at(-1);
    const line = state.status === 'retrying' || state.status === 'failed' ? `${state.status} after: ${String(state.error)}` : state.status;
    if (line !== last) this.log.update((lines) => [...lines, line]);
  }
}
