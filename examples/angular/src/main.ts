import { provideHttpClient, withFetch, withInterceptors } from '@angular/common/http';
import { provideZonelessChangeDetection } from '@angular/core';
import { bootstrapApplication } from '@angular/platform-browser';
import { AppComponent } from './app/app.component';
import { authInterceptor } from './app/auth.interceptor';

bootstrapApplication(AppComponent, {
  providers: [
    provideZonelessChangeDetection(),
    // withFetch(): HttpClient uses fetch, whose progress events carry the text as it streams.
    provideHttpClient(withFetch(), withInterceptors([authInterceptor])),
  ],
}).catch((error: unknown) => console.error(error));
