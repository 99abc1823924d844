import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { Subject, switchMap } from 'rxjs';
import { ChatService } from './chat.service';
import { TRIP_FIELDS } from './trip';

/**
 * A form the model fills in: the answer is JSON, streamed, and each field
 * shows as soon as its value begins (a number once it is complete), long
 * before the answer ends. The user can edit the fields afterwards.
 */
@Component({
  selector: 'app-trip-form',
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <section class="trip">
      <h2>A structured answer, field by field <small>parseJsonAsItStreams · zod</small></h2>
      <form (submit)="plan($event)">
        <label>Ask for a trip <input name="trip-request" [value]="request()" (input)="request.set(value($event))" /></label>
        <button type="submit" [disabled]="busy()">Plan</button>
        <button type="button" (click)="stop$.next()" [disabled]="!busy()">Stop</button>
      </form>
      <p class="trip-status" [attr.data-status]="state()?.status ?? 'idle'">{{ statusText() }}</p>
      <div class="fields">
        @for (field of fields; track field.key; let i = $index) {
          <label [class.filled]="values()[i] !== ''">{{ field.label }} <input [name]="field.key" [value]="values()[i]" /></label>
        }
      </div>
      @if (errorText(); as error) {
        <p class="error" role="alert">{{ error }}</p>
      }
    </section>
  `,
  styles: `
    form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: end; }
    label { display: flex; flex-direction: column; font-size: 0.8rem; color: #556; }
    input { font: inherit; padding: 0.3rem 0.5rem; min-width: 0; }
    form input { min-width: 20rem; }
    button { font: inherit; padding: 0.3rem 1rem; }
    .trip-status { font-weight: 600; color: #2457a6; }
    .trip-status[data-status='failed'] { color: #b3261e; }
    .error { color: #b3261e; background: #fdecea; padding: 0.5rem 0.75rem; border-radius: 6px; }
    .trip { margin-top: 2rem; padding-top: 1rem; border-top: 1px solid #d0d5dd; }
    h2 { font-size: 1.15rem; } h2 small { font-weight: normal; color: #667; font-size: 0.85rem; }
    .fields { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: 0.5rem; margin-top: 0.5rem; }
    .fields label.filled input { background: #f3f8ff; }
  `,
})
export class TripFormComponent {
  private readonly chat = inject(ChatService);
  private readonly requests = new Subject<string>();
  protected readonly stop$ = new Subject<void>();
  protected readonly request = signal('Four days somewhere sunny in spring.');
  protected readonly fields = TRIP_FIELDS;

  /** A new request cancels the one under way (switchMap aborts its HTTP request). */
  protected readonly state = toSignal(this.requests.pipe(switchMap((request) => this.chat.planTrip(request, this.stop$))));

  /** The trip so far: the validated value at the end, the partial parse before. */
  protected readonly trip = computed(() => {
    const snapshot = this.state()?.snapshot;
    return snapshot?.value ?? snapshot?.partial;
  });

  /** One string per field, '' until its value begins. */
  protected readonly values = computed(() => {
    const trip = this.trip();
    return this.fields.map(({ key }) => (trip?.[key] === undefined ? '' : String(trip[key])));
  });

  protected readonly busy = computed(() => ['connecting', 'streaming', 'resuming', 'retrying'].includes(this.state()?.status ?? 'idle'));

  protected readonly statusText = computed(() => {
    const state = this.state();
    if (!state) return 'Ask for a trip: the model answers in JSON, and the fields fill in as it streams.';
    const filled = `${this.values().filter((value) => value !== '').length} of ${this.fields.length} fields`;
    switch (state.status) {
      case 'connecting':
        return `Connecting… (attempt ${state.attempt} of ${state.maxAttempts})`;
      case 'streaming':
      case 'resuming':
        return `Filling in… (${filled})`;
      case 'retrying':
        return `Connection problem: retrying in ${((state.retryInMs ?? 0) / 1000).toFixed(1)} s`;
      case 'done':
        return `Done: ${filled}, checked against the schema.`;
      case 'failed':
        return 'Failed.';
      case 'stopped':
        return `Stopped (${filled}).`;
    }
  });

  protected readonly errorText = computed(() => {
    const state = this.state();
    if (state?.status !== 'failed') return '';
    const error = state.error;
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  });

  protected plan(event: Event): void {
    event.preventDefault();
    this.requests.next(this.request());
  }

  protected value(event: Event): string {
    return (event.target as HTMLInputElement).value;
  }
}
