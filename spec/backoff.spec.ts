import { backoffDelay, baseDelay, type BackoffSettings } from '../src/timing/backoff.js';

const settings = (overrides: Partial<BackoffSettings> = {}): BackoffSettings => ({
  initialDelay: 1000,
  multiplier: 2,
  maxDelay: 30_000,
  jitter: 'none',
  ...overrides,
});

describe('backoff math', () => {
  it('grows by the multiplier and stops at maxDelay', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((k) => baseDelay(k, settings()))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect([0, 1, 2].map((k) => baseDelay(k, settings({ multiplier: 1 })))).toEqual([1000, 1000, 1000]);
  });

  it('applies each jitter kind to the computed delay', () => {
    const at = (random: number, jitter: BackoffSettings['jitter'], k = 2) => backoffDelay(k, settings({ jitter }), () => random);
    expect(at(0.3, 'none')).toBe(4000);
    expect([at(0, 'full'), at(0.5, 'full'), at(0.999, 'full')]).toEqual([0, 2000, 3996]);
    expect([at(0, 'equal'), at(0.5, 'equal')]).toEqual([2000, 3000]);
    expect([at(0, 0.25), at(0.5, 0.25)]).toEqual([3000, 4000]);
    expect(at(0.999999, 0.25)).toBeCloseTo(5000, 0);
  });

  it('grows decorrelated jitter from the previous delay and caps it', () => {
    const s = settings({ jitter: 'decorrelated', maxDelay: 5000 });
    expect(backoffDelay(0, s, () => 0)).toBe(1000);
    expect(backoffDelay(0, s, () => 0.5)).toBe(2000); // uniform(1000, 3000)
    expect(backoffDelay(1, s, () => 0.5, 2000)).toBe(3500); // uniform(1000, 6000)
    expect(backoffDelay(2, s, () => 0.99, 4000)).toBe(5000); // capped
  });
});
