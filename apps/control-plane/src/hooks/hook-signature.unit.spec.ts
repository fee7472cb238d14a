import { signDelivery } from './hook-signature';

describe('delivery signature', () => {
  it('is the HMAC-SHA256 of the body with the secret (RFC 4231 test case 2), hex, prefixed sha256=', () => {
    expect(signDelivery('Jefe', 'what do ya want for nothing?')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('signs the exact bytes: the same JSON with different spacing or another secret signs differently', () => {
    const secret = 'a-secret-of-sixteen-chars';
    const compact = '{"a":1}';
    expect(signDelivery(secret, Buffer.from(compact))).toBe(signDelivery(secret, compact));
    expect(signDelivery(secret, '{"a": 1}')).not.toBe(signDelivery(secret, compact));
    expect(signDelivery(`${secret}x`, compact)).not.toBe(signDelivery(secret, compact));
  });
});
