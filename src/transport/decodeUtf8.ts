import { Observable, type OperatorFunction } from 'rxjs';

/**
 * Decodes a stream of byte chunks as UTF-8 into text pieces: a character cut
 * between two chunks comes out whole with the second; invalid bytes become
 * U+FFFD; an empty chunk gives an empty piece; bytes left over at the end
 * (a cut character) come out as U+FFFD before completion. One `TextDecoder`
 * per subscription.
 *
 * ```text
 * bytes:  -[68 c3]-[a9]-|
 * text:   -"h"----"é"--|
 * ```
 *
 * @example
 * ```ts
 * fetchBytes(request, options).pipe(decodeUtf8(), parseServerSentEvents({ source: 'mySource' }));
 * ```
 */
export function decodeUtf8(): OperatorFunction<Uint8Array, string> {
  // One subscriber of its own rather than `map` + `concatWith`: this runs for
  // every read of the body, and each operator is one more hop per read.
  return (bytes) =>
    new Observable<string>((subscriber) => {
      const decoder = new TextDecoder();
      return bytes.subscribe({
        next: (chunk) => subscriber.next(decoder.decode(chunk, { stream: true })),
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          const rest = decoder.decode();
          if (rest !== '') subscriber.next(rest);
          subscriber.complete();
        },
      });
    });
}
