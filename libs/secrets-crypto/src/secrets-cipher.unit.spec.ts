import { createHash, randomBytes } from 'node:crypto';
import {
  isCiphertext,
  NO_SECRETS_KEY,
  SecretsCipher,
  secretsCipherFromEnv,
  SecretsKeyError,
  secretsKeyId,
} from './secrets-cipher';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const idOf = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 8);
const failure = (run: () => unknown): Error => {
  try {
    run();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
};

describe('SecretsCipher', () => {
  it('encrypts into enc:v1:<key ID>:<iv|ciphertext|tag>, with a fresh IV each time, and decrypts back', () => {
    const cipher = new SecretsCipher(keyA);
    const secret = 'alice:scrypt$16384$8$1$c2FsdA$aGFzaA; ünïcødé';
    const one = cipher.encrypt(secret);
    const two = cipher.encrypt(secret);
    expect(one).toMatch(new RegExp(`^enc:v1:${idOf(keyA)}:[A-Za-z0-9_-]+$`));
    expect(one).not.toBe(two);
    expect(one).not.toContain('alice');
    expect(cipher.keyId).toBe(idOf(keyA));
    expect(secretsKeyId(keyA)).toBe(idOf(keyA));
    expect(cipher.decrypt(one)).toBe(secret);
    expect(cipher.decrypt(two)).toBe(secret);
    expect(isCiphertext(one)).toBe(true);
    expect(isCiphertext(secret)).toBe(false);
  });

  it('leaves a value stored before encryption existed (no prefix) as it is', () => {
    expect(new SecretsCipher(keyA).decrypt('plain old secret')).toBe('plain old secret');
  });

  it('decrypts with a previous key, encrypts and re-encrypts with the current one', () => {
    const old = new SecretsCipher(keyA).encrypt('s3cret');
    const rotated = new SecretsCipher(keyB, [keyA]);
    expect(rotated.decrypt(old)).toBe('s3cret');
    expect(rotated.encrypt('x')).toContain(`:${idOf(keyB)}:`);
    const again = rotated.reencrypt(old);
    expect(again).toContain(`enc:v1:${idOf(keyB)}:`);
    expect(new SecretsCipher(keyB).decrypt(again)).toBe('s3cret');
    // idempotent: a value under the current key is kept as it is; plaintext gets encrypted
    expect(rotated.reencrypt(again)).toBe(again);
    expect(rotated.decrypt(rotated.reencrypt('legacy'))).toBe('legacy');
  });

  it('names the key IDs and variables when no key it has fits, never the value', () => {
    const foreign = new SecretsCipher(keyA).encrypt('do-not-show');
    const err = failure(() => new SecretsCipher(keyB).decrypt(foreign));
    expect(err).toBeInstanceOf(SecretsKeyError);
    expect(err.message).toBe(
      `encrypted with key ${idOf(keyA)}, which is neither PLEXUS_SECRETS_KEY (key ${idOf(keyB)}) ` +
        'nor PLEXUS_SECRETS_KEY_PREVIOUS: start this process with the key the value was encrypted with',
    );
    const tampered = foreign.slice(0, -4) + (foreign.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const damaged = failure(() => new SecretsCipher(keyA).decrypt(tampered));
    expect(damaged.message).toMatch(/cannot be decrypted with key \w{8}: the value is damaged/);
    expect(`${err.message}${damaged.message}`).not.toContain('do-not-show');
  });

  it('without a key, passes plain values and refuses encrypted ones naming PLEXUS_SECRETS_KEY', () => {
    expect(NO_SECRETS_KEY.decrypt('plain')).toBe('plain');
    const err = failure(() => NO_SECRETS_KEY.decrypt(new SecretsCipher(keyA).encrypt('x')));
    expect(err).toBeInstanceOf(SecretsKeyError);
    expect(err.message).toBe(
      `encrypted with key ${idOf(keyA)}, but PLEXUS_SECRETS_KEY is not set in this process`,
    );
  });
});

describe('secretsCipherFromEnv', () => {
  const b64 = (key: Buffer) => key.toString('base64');

  it('reads PLEXUS_SECRETS_KEY and any PLEXUS_SECRETS_KEY_PREVIOUS (comma separated)', () => {
    expect(secretsCipherFromEnv({})).toBeNull();
    const cipher = secretsCipherFromEnv({
      PLEXUS_SECRETS_KEY: b64(keyB),
      PLEXUS_SECRETS_KEY_PREVIOUS: ` ${b64(keyA)} , ${keyA.toString('base64url')}`,
    })!;
    expect(cipher.keyId).toBe(idOf(keyB));
    expect(cipher.decrypt(new SecretsCipher(keyA).encrypt('x'))).toBe('x');
  });

  it('refuses a key that is not 32 bytes of base64, naming the variable and the form', () => {
    const form = '32 random bytes in base64, e.g. from `openssl rand -base64 32`';
    expect(failure(() => secretsCipherFromEnv({ PLEXUS_SECRETS_KEY: 'short' })).message).toBe(
      `PLEXUS_SECRETS_KEY must be ${form}`,
    );
    expect(
      failure(() =>
        secretsCipherFromEnv({ PLEXUS_SECRETS_KEY: b64(keyA), PLEXUS_SECRETS_KEY_PREVIOUS: '!' }),
      ).message,
    ).toBe(`PLEXUS_SECRETS_KEY_PREVIOUS must be ${form} (several separated by commas)`);
    expect(
      failure(() => secretsCipherFromEnv({ PLEXUS_SECRETS_KEY_PREVIOUS: b64(keyA) })).message,
    ).toBe('PLEXUS_SECRETS_KEY_PREVIOUS is set but PLEXUS_SECRETS_KEY is not');
  });
});
