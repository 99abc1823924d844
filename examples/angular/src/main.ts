import { provideHttpClient, withInterceptors } from '@angular/common/http';
import { bootstrapApplication } from '@angular/platform-browser';
import { AppComponent } from './app/app.component';
import { authInterceptor } from './app/auth.interceptor';
import { RelayPageComponent } from './app/relay-page.component';

// Two pages without a router: /relay streams through your backend's relay (examples/nestjs-relay).
const page = location.pathname.startsWith('/relay') ? RelayPageComponent : AppComponent;

bootstrapApplication(page, {
  providers: [
    // Angular 22 is zoneless by default and HttpClient uses fetch by default (FetchBackend),
    // whose progress events carry the text as it streams; withXhr() would batch it (~50 ms).
    provideHttpClient(withInterceptors([authInterceptor])),
  ],
}).catch((error: unknown) => console.error(error));
