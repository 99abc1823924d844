import { parseHttpDate, retryAfterMs } from '../src/timing/retryAfter.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const headers = (values: Record<string, string>) => new Headers(values);

describe('retryAfterMs', () => {
  describe('Retry-After as delay-seconds (1*DIGIT)', () => {
    it.each([
      ['0', 0],
      ['7', 7000],
      ['120', 120_000],
      ['007', 7000],
      [' 30 ', 30_000],
      ['2937600', 2_937_600_000],
      ['9'.repeat(400), Infinity], // too long to represent: never, not "now"
    ])('reads %j as %i ms', (value, expected) => {
      expect(retryAfterMs(headers({ 'retry-after': value }), NOW)).toBe(expected);
    });

    it.each([
      ['-1'],
      ['+5'],
      ['1.5'],
      ['1,5'],
      ['1e3'],
      ['0x10'],
      ['Foo 2'],
      ['2 Foo'],
      ['5 5'],
      ['5, 5'],
      [''],
      ['   '],
      ['NaN'],
      ['Infinity'],
      ['soon'],
      ['²'],
    ])('ignores %j', (value) => {
      expect(retryAfterMs(headers({ 'retry-after': value }), NOW)).toBeUndefined();
    });
  });

  describe('Retry-After as an HTTP-date', () => {
    it.each([
      ['IMF-fixdate', 'Thu, 15 Jan 2026 12:00:30 GMT', 30_000],
      ['RFC 850', 'Thursday, 15-Jan-26 12:01:00 GMT', 60_000],
      ['asctime', 'Fri Jan 16 12:00:00 2026', 86_400_000],
      ['a leap second', 'Thu, 15 Jan 2026 12:00:60 GMT', 60_000],
      ['a date in the past', 'Thu, 01 Jan 1970 00:00:00 GMT', 0],
    ])('reads %s against the local clock when there is no Date header', (_name, value, expected) => {
      expect(retryAfterMs(headers({ 'retry-after': value }), NOW)).toBe(expected);
    });

    it('reads an asctime day padded with a space', () => {
      const early = Date.UTC(2026, 1, 3, 0, 0, 0);
      expect(retryAfterMs(headers({ 'retry-after': 'Tue Feb  3 00:00:10 2026' }), early)).toBe(10_000);
    });

    it.each([
      ['lower-case month', 'Thu, 15 jan 2026 12:00:30 GMT'],
      ['lower-case weekday', 'thu, 15 Jan 2026 12:00:30 GMT'],
      ['another zone', 'Thu, 15 Jan 2026 12:00:30 UTC'],
      ['a numeric offset', 'Thu, 15 Jan 2026 12:00:30 +0000'],
      ['no weekday', '15 Jan 2026 12:00:30 GMT'],
      ['one-digit day in IMF-fixdate', 'Thu, 5 Jan 2026 12:00:30 GMT'],
      ['ISO 8601', '2026-01-15T12:00:30Z'],
      ['a day that does not exist', 'Tue, 31 Feb 2026 12:00:30 GMT'],
      ['day zero', 'Thu, 00 Jan 2026 12:00:30 GMT'],
      ['hour 24', 'Thu, 15 Jan 2026 24:00:00 GMT'],
      ['minute 60', 'Thu, 15 Jan 2026 12:60:00 GMT'],
      ['second 61', 'Thu, 15 Jan 2026 12:00:61 GMT'],
      ['trailing text', 'Thu, 15 Jan 2026 12:00:30 GMT later'],
      ['a full weekday in IMF-fixdate', 'Thursday, 15 Jan 2026 12:00:30 GMT'],
      ['a four-digit year in RFC 850', 'Thursday, 15-Jan-2026 12:00:30 GMT'],
      ['asctime with GMT', 'Thu Jan 15 12:00:30 2026 GMT'],
      ['a bare weekday', 'Thursday'],
    ])('ignores %s', (_name, value) => {
      expect(retryAfterMs(headers({ 'retry-after': value }), NOW)).toBeUndefined();
    });

    it("measures the date against the response's Date header, not the local clock", () => {
      // The local clock runs an hour ahead of the server: the server still means 30 s.
      const localClockAhead = NOW + 3_600_000;
      const response = headers({ 'retry-after': 'Thu, 15 Jan 2026 12:00:30 GMT', date: 'Thu, 15 Jan 2026 12:00:00 GMT' });
      expect(retryAfterMs(response, localClockAhead)).toBe(30_000);
      // And an hour behind.
      expect(retryAfterMs(response, NOW - 3_600_000)).toBe(30_000);
    });

    it('accepts a Date header in any of the three formats', () => {
      const retryAfter = 'Thu, 15 Jan 2026 12:00:30 GMT';
      for (const date of ['Thu, 15 Jan 2026 12:00:10 GMT', 'Thursday, 15-Jan-26 12:00:10 GMT', 'Thu Jan 15 12:00:10 2026']) {
        expect(retryAfterMs(headers({ 'retry-after': retryAfter, date }), NOW + 3_600_000)).toBe(20_000);
      }
    });

    it('falls back to the local clock when the Date header is invalid', () => {
      const retryAfter = 'Thu, 15 Jan 2026 12:00:30 GMT';
      for (const date of ['yesterday', '', '2026-01-15T12:00:00Z', 'Thu, 15 Jan 2026 12:00:00 UTC']) {
        expect(retryAfterMs(headers({ 'retry-after': retryAfter, date }), NOW)).toBe(30_000);
      }
    });

    it('gives 0 for a date before the Date header', () => {
      const response = headers({ 'retry-after': 'Thu, 15 Jan 2026 11:59:00 GMT', date: 'Thu, 15 Jan 2026 12:00:00 GMT' });
      expect(retryAfterMs(response, NOW)).toBe(0);
    });

    it('leaves delay-seconds alone when a Date header is present', () => {
      expect(retryAfterMs(headers({ 'retry-after': '5', date: 'Thu, 15 Jan 2026 10:00:00 GMT' }), NOW)).toBe(5000);
    });
  });

  describe('retry-after-ms', () => {
    it.each([
      ['0', 0],
      ['1500', 1500],
      ['850.5', 850.5],
      [' 20 ', 20],
    ])('reads %j as %d ms, before Retry-After', (value, expected) => {
      expect(retryAfterMs(headers({ 'retry-after-ms': value, 'retry-after': '30' }), NOW)).toBe(expected);
    });

    it.each([['-1'], ['-0.5'], ['1e3'], ['.5'], ['5.'], ['NaN'], ['Infinity'], [''], ['Foo 2'], ['10 ms'], ['1,5']])(
      'ignores %j and falls back to Retry-After',
      (value) => {
        expect(retryAfterMs(headers({ 'retry-after-ms': value, 'retry-after': '3' }), NOW)).toBe(3000);
        expect(retryAfterMs(headers({ 'retry-after-ms': value }), NOW)).toBeUndefined();
      },
    );
  });

  it('is undefined without either header', () => {
    expect(retryAfterMs(headers({}), NOW)).toBeUndefined();
  });
});

describe('parseHttpDate', () => {
  it('reads the three RFC 9110 formats as the same instant', () => {
    const expected = Date.UTC(1994, 10, 6, 8, 49, 37);
    const late90s = Date.UTC(1999, 0, 1);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(expected);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', late90s)).toBe(expected);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(expected);
  });

  it('reads a two-digit year more than 50 years ahead as the past century', () => {
    const in2026 = Date.UTC(2026, 0, 1);
    expect(new Date(parseHttpDate('Monday, 01-Jan-76 00:00:00 GMT', in2026)!).getUTCFullYear()).toBe(2076);
    expect(new Date(parseHttpDate('Friday, 01-Jan-77 00:00:00 GMT', in2026)!).getUTCFullYear()).toBe(1977);
  });

  it('reads years below 100 as they are written', () => {
    expect(new Date(parseHttpDate('Sat, 01 Jan 0050 00:00:00 GMT')!).getUTCFullYear()).toBe(50);
  });
});
