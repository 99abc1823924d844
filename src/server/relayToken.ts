/**
 * The injection token for the process's relay (`createRelay`) in a
 * dependency-injection container: NestJS's `{ provide: RELAY, useFactory }`
 * and `@Inject(RELAY)`, Angular-style injectors, InversifyJS and the like.
 * `Relay` is an interface, which exists only at compile time, so a container
 * cannot find it by type: it needs a value, and this is that value. It is a
 * `Symbol.for` symbol, the same in the ESM and the CJS copy of the package.
 * The library does not depend on any framework; the module around it is a
 * few lines of your app (docs/nestjs.md).
 *
 * @example
 * ```ts
 * import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
 * import { createRelay, RELAY, type Relay } from 'rxjs-llm-stream/server';
 *
 * @Global()
 * @Module({ providers: [{ provide: RELAY, useFactory: () => createRelay() }], exports: [RELAY] })
 * export class RelayModule implements OnApplicationShutdown {
 *   constructor(@Inject(RELAY) private readonly relay: Relay) {}
 *   onApplicationShutdown(): Promise<void> {
 *     return this.relay.close({ drainMs: 5_000 }); // with app.enableShutdownHooks(): SIGTERM drains, then hands over
 *   }
 * }
 * // in a controller: constructor(@Inject(RELAY) private readonly relay: Relay) {}
 * ```
 */
export const RELAY: unique symbol = Symbol.for('rxjs-llm-stream/server:relay');
