/**
 * THE carriage-return rule of the transport, in one place: returns a function
 * that turns CR and CRLF into LF in successive pieces of one stream, so that
 * a CR ending a piece ends its line at once (instead of waiting for the next
 * byte to tell it from CRLF), and an LF starting the next piece, being the
 * second half of that CRLF, is dropped. Only that one LF: the flag is
 * cleared by any non-empty piece, whatever it holds.
 *
 * ```text
 * pieces:  "a\r" | "\n"  | "\nb"  | "c\r\n\r" | "x"
 * result:  "a\n" | ""    | "\nb"  | "c\n\n"   | "x"
 * ```
 */
export function lineEndNormalizer(): (piece: string) => string {
  let pendingCR = false;
  return (piece) => {
    if (piece === '') return piece;
    let text = piece;
    if (pendingCR && text.charCodeAt(0) === 10) text = text.slice(1);
    pendingCR = false;
    if (text.includes('\r')) {
      pendingCR = text.charCodeAt(text.length - 1) === 13;
      text = text.replace(/\r\n?/g, '\n');
    }
    return text;
  };
}
