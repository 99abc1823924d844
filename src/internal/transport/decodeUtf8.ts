import { concatWith, defer, filter, map, of, type OperatorFunction } from 'rxjs';

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
  return (bytes) =>
    defer(() => {
      const decoder = new TextDecoder();
      return bytes.pipe(
        map((chunk) => decoder.decode(chunk, { stream: true })),
        concatWith(defer(() => of(decoder.decode())).pipe(filter((rest) => rest !== ''))),
      );
    });
}

