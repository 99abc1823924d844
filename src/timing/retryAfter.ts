/**
 * Reads how long the server asks us to wait, in milliseconds: `retry-after-ms`
 * (OpenAI's; a non-negative decimal number of milliseconds), else
 * `Retry-After` (RFC 9110 §10.2.3: `delay-seconds`, a non-negative integer, or
 * an HTTP-date). `undefined` when neither is present and valid: a malformed
 * value (`-1`, `Foo 2`, `1.5` seconds, empty) is ignored, never read as
 * "retry now".
 *
 * An HTTP-date is a point on the server's clock. When the response carries a
 * valid `Date` header, the delay is the difference of the two server times, so
 * a client clock that is off by minutes does not change it; otherwise it is
 * measured against `now`. A date in the past gives 0.
 */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const milliseconds = headers.get('retry-after-ms')?.trim();
  if (milliseconds !== undefined && /^\d+(\.\d+)?$/.test(milliseconds)) return Number(milliseconds);
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = parseHttpDate(value, now);
  if (date === undefined) return undefined;
  const serverNow = parseHttpDate(headers.get('date')?.trim() ?? '', now) ?? now;
  return Math.max(0, date - serverNow);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** `Sun, 06 Nov 1994 08:49:37 GMT`: the preferred format. */
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** `Sunday, 06-Nov-94 08:49:37 GMT`: obsolete, two-digit year. */
const RFC_850 = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** `Sun Nov  6 08:49:37 1994`: obsolete, C's asctime(). */
const ASCTIME = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} ((?:\\d| )\\d) ${TIME} (\\d{4})$`);

/**
 * Milliseconds since the epoch of an RFC 9110 HTTP-date (IMF-fixdate, RFC 850
 * or asctime; case-sensitive, as the grammar says), or `undefined` when the
 * text is none of them or names a time that does not exist (31 Feb, 25:00).
 * The weekday is checked for form, not for agreement with the date.
 */
export function parseHttpDate(text: string, now = Date.now()): number | undefined {
  let match = IMF_FIXDATE.exec(text);
  if (match) return utc(Number(match[3]), match[2]!, match[1]!, match.slice(4, 7));
  match = RFC_850.exec(text);
  if (match) return utc(fullYear(Number(match[3]), now), match[2]!, match[1]!, match.slice(4, 7));
  match = ASCTIME.exec(text);
  if (match) return utc(Number(match[6]), match[1]!, match[2]!.trim(), match.slice(3, 6));
  return undefined;
}

/**
 * RFC 9110: a two-digit year that would be more than 50 years in the future is
 * the most recent past year with the same last two digits.
 */
function fullYear(twoDigits: number, now: number): number {
  const thisYear = new Date(now).getUTCFullYear();
  let year = thisYear - (thisYear % 100) + twoDigits;
  if (year > thisYear + 50) year -= 100;
  return year;
}

function utc(year: number, monthName: string, dayText: string, time: string[]): number | undefined {
  const month = MONTHS.indexOf(monthName);
  const day = Number(dayText);
  const [hour, minute, second] = time.map(Number) as [number, number, number];
  // 60 is a leap second (RFC 9110 allows it); it reads as the next second.
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month, day); // not Date.UTC, which reads years 0 to 99 as 1900 to 1999
  if (date.getUTCDate() !== day) return undefined;
  return date.getTime() + ((hour * 60 + minute) * 60 + second) * 1000;
}
