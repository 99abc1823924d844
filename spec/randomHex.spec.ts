import { randomHex } from '../src/server/randomHex';

describe('randomHex', () => {
  it('gives 2 hex characters per byte', () => {
    expect(randomHex(8)).toMatch(/^[0-9a-f]{16}$/);
    expect(randomHex(16)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('never hands the same bytes out twice, across many refills of its pool', () => {
    // 20,000 draws of 8 bytes pass through the 4 KiB pool about 40 times.
    const drawn = new Set(Array.from({ length: 20_000 }, () => randomHex(8)));
    expect(drawn.size).toBe(20_000);
  });

  it('draws more than its pool holds in one go', () => {
    const big = randomHex(5_000);
    expect(big).toMatch(/^[0-9a-f]{10000}$/);
    expect(new Set(big.match(/.{16}/g)).size).toBe(625);
  });
});
