import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { Subject, switchMap, tap } from 'rxjs';
import type { ChatCompletionSnapshot, StreamState } from 'rxjs-llm-stream';
import { AuthService } from './auth.service';
import { ChatService } from './chat.service';
import { TripFormComponent } from './trip-form.component';

type State = StreamState<ChatCompletionSnapshot>;

@Component({
  selector: 'app-root',
  imports: [TripFormComponent],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <main>
      <h1>rxjs-llm-stream <small>Angular · HttpClient · withStreamStatus</small></h1>
      <form (submit)="send($event)">
        <label>Question <input name="question" [value]="question()" (input)="question.set(value($event))" /></label>
        <label>API token <input name="token" [value]="auth.token()" (input)="auth.token.set(value($event))" /></label>
        <button type="submit" [disabled]="busy()">Send</button>
        <button type="button" (click)="stop$.next()" [disabled]="!busy()">Stop</button>
      </form>
      <p class="status" [attr.data-status]="state()?.status ?? 'idle'">{{ statusText() }}</p>
      <div class="answer" aria-live="polite">{{ state()?.snapshot?.content }}</div>
      @if (errorText(); as error) {
        <p class="error" role="alert">{{ error }}</p>
      }
      <ol class="log">
        @for (line of log(); track $index) {
          <li>{{ line }}</li>
        }
      </ol>
      <app-trip-form />
    </main>
  `,
  styles: `
    main { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d2433; }
    h1 { font-size: 1.4rem; } h1 small { font-weight: normal; color: #667; font-size: 0.9rem; }
    form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: end; }
    label { display: flex; flex-direction: column; font-size: 0.8rem; color: #556; }
    input { font: inherit; padding: 0.3rem 0.5rem; min-width: 14rem; }
    button { font: inherit; padding: 0.3rem 1rem; }
    .status { font-weight: 600; color: #2457a6; }
    .status[data-status='retrying'] { color: #b26a00; }
    .status[data-status='failed'] { color: #b3261e; }
    .answer { white-space: pre-wrap; min-height: 4rem; padding: 0.75rem; border: 1px solid #d0d5dd; border-radius: 6px; background: #f8f9fb; }
    .error { color: #b3261e; background: #fdecea; padding: 0.5rem 0.75rem; border-radius: 6px; }
    .log { color: #667; font-size: 0.8rem; }
  `,
})
export class AppComponent {
  protected readonly auth = inject(AuthService);
  private readonly chat = inject(ChatService);
  private readonly questions = new Subject<string>();
  protected readonly stop$ = new Subject<void>();
  protected readonly question = signal('Tell me about streams.');
  /** One line per status change, so a retry stays visible after the answer is done. */
  protected readonly log = signal<string[]>([]);

  protected readonly state = toSignal(
    this.questions.pipe(
      tap(() => this.log.set([])),
      // A new question cancels the answer under way (its request is aborted).
      switchMap((question) => this.chat.ask(question, this.stop$)),
      tap((state) => this.record(state)),
    ),
  );

  protected readonly busy = computed(() => ['connecting', 'streaming', 'resuming', 'retrying'].includes(this.state()?.status ?? 'idle'));

  protected readonly statusText = computed(() => {
    const state = this.state();
    if (!state) return 'Ask something.';
    const attempt = `attempt ${state.attempt} of ${state.maxAttempts}`;
    switch (state.status) {
      case 'connecting':
        return `Connecting… (${attempt})`;
      case 'streaming':
        return `Streaming… (${attempt})`;
      case 'resuming':
        return `Resuming where the answer stopped… (${attempt})`;
      case 'retrying':
        return `Connection problem: retrying in ${seconds(state.retryInMs)} (attempt ${state.attempt + 1} of ${state.maxAttempts})`;
      case 'done':
        return state.attempt > 1 ? `Done after ${state.attempt} attempts.` : 'Done.';
      case 'failed':
        return `Failed (${attempt}).`;
      case 'stopped':
        return 'Stopped.';
    }
  });

  protected readonly errorText = computed(() => {
    const state = this.state();
    return state?.status === 'failed' || state?.status === 'retrying' ? describe(state.error) : '';
  });

  protected send(event: Event): void {
    event.preventDefault();
    this.questions.next(this.question());
  }

  protected value(event: Event): string {
    return (event.target as HTMLInputElement).value;
  }

  private record(state: State): void {
    const last = this.log().at(-1);
    const line =
      state.status === 'retrying'
        ? `retrying in ${seconds(state.retryInMs)} after: ${describe(state.error)}`
        : state.status === 'connecting'
          ? `connecting (attempt ${state.attempt} of ${state.maxAttempts})`
          : state.status;
    if (line !== last) this.log.update((lines) => [...lines, line]);
  }
}

function seconds(ms: number | undefined): string {
  return `${((ms ?? 0) / 1000).toFixed(1)} s`;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error ?? '');
}
