import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export const SECRETS_KEY_VARIABLE = 'PLEXUS_SECRETS_KEY';
export const PREVIOUS_SECRETS_KEY_VARIABLE = 'PLEXUS_SECRETS_KEY_PREVIOUS';

/** `enc:v1:<key ID>:<base64url(iv | ciphertext | tag)>`: AES-256-GCM, 12-byte IV, 16-byte tag. */
const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_FORM = '32 random bytes in base64, e.g. from `openssl rand -base64 32`';

/** A key is missing, malformed or not the one a value was encrypted with. Never names a value. */
export class SecretsKeyError extends Error {
  name = 'SecretsKeyError';
}

export const isCiphertext = (value: string) => value.startsWith(PREFIX);

/** The key ID written into each ciphertext: the first 8 hex digits of the key's SHA-256. */
export const secretsKeyId = (key: Buffer) =>
  createHash('sha256').update(key).digest('hex').slice(0, 8);

/** The key ID a ciphertext names, or null for a value that is not one. */
export function ciphertextKeyId(value: string): string | null {
  if (!isCiphertext(value)) return null;
  const end = value.indexOf(':', PREFIX.length);
  return end < 0 ? null : value.slice(PREFIX.length, end);
}

/** What opens secret values: a SecretsCipher, or NO_SECRETS_KEY in a process without a key. */
export interface SecretsDecryptor {
  /** The plaintext of a ciphertext; a value that is none (stored before encryption) as it is. */
  decrypt(value: string): string;
}

/** A process without PLEXUS_SECRETS_KEY: plain values pass, encrypted ones are refused. */
export const NO_SECRETS_KEY: SecretsDecryptor = {
  decrypt(value) {
    if (!isCiphertext(value)) return value;
    throw new SecretsKeyError(
      `encrypted with key ${ciphertextKeyId(value)}, but ${SECRETS_KEY_VARIABLE} is not set in this process`,
    );
  },
};

/**
 * Encrypts secret values with the current key and decrypts with it or any previous one (key
 * rotation), each ciphertext naming its key by ID.
 */
export class SecretsCipher implements SecretsDecryptor {
  readonly keyId: string;
  private readonly keys = new Map<string, Buffer>();

  constructor(
    private readonly current: Buffer,
    previous: Buffer[] = [],
  ) {
    for (const key of [current, ...previous]) {
      if (key.length !== KEY_BYTES) throw new SecretsKeyError(`a secrets key must be ${KEY_FORM}`);
      if (!this.keys.has(secretsKeyId(key))) this.keys.set(secretsKeyId(key), key);
    }
    this.keyId = secretsKeyId(current);
  }

  encrypt(plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current, iv);
    const body = Buffer.concat([
      iv,
      cipher.update(plaintext, 'utf8'),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return `${PREFIX}${this.keyId}:${body.toString('base64url')}`;
  }

  decrypt(value: string): string {
    const keyId = ciphertextKeyId(value);
    if (keyId === null) return value;
    const key = this.keys.get(keyId);
    if (!key)
      throw new SecretsKeyError(
        `encrypted with key ${keyId}, which is neither ${SECRETS_KEY_VARIABLE} (key ${this.keyId}) ` +
          `nor ${PREVIOUS_SECRETS_KEY_VARIABLE}: start this process with the key the value was encrypted with`,
      );
    const body = Buffer.from(value.slice(PREFIX.length + keyId.length + 1), 'base64url');
    try {
      if (body.length < IV_BYTES + TAG_BYTES) throw new Error('too short');
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const text = decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES));
      return Buffer.concat([text, decipher.final()]).toString('utf8');
    } catch {
      throw new SecretsKeyError(
        `cannot be decrypted with key ${keyId}: the value is damaged or was not encrypted with that key`,
      );
    }
  }

  /** The value encrypted with the current key: kept as it is when it already is (idempotent). */
  reencrypt(value: string): string {
    if (ciphertextKeyId(value) === this.keyId) return value;
    return this.encrypt(this.decrypt(value));
  }
}

function parseKey(text: string, variable: string, form: string): Buffer {
  const trimmed = text.trim();
  const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed) ? Buffer.from(trimmed, 'base64') : null;
  if (!key || key.length !== KEY_BYTES) throw new SecretsKeyError(`${variable} must be ${form}`);
  return key;
}

/**
 * The cipher PLEXUS_SECRETS_KEY (and PLEXUS_SECRETS_KEY_PREVIOUS, comma separated, for values
 * encrypted before a rotation) make; null when no key is set. Throws SecretsKeyError naming the
 * variable and the expected form.
 */
export function secretsCipherFromEnv(env: {
  PLEXUS_SECRETS_KEY?: string;
  PLEXUS_SECRETS_KEY_PREVIOUS?: string;
}): SecretsCipher | null {
  const current = env.PLEXUS_SECRETS_KEY?.trim();
  const previous = (env.PLEXUS_SECRETS_KEY_PREVIOUS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  if (!current) {
    if (previous.length)
      throw new SecretsKeyError(
        `${PREVIOUS_SECRETS_KEY_VARIABLE} is set but ${SECRETS_KEY_VARIABLE} is not`,
      );
    return null;
  }
  return new SecretsCipher(
    parseKey(current, SECRETS_KEY_VARIABLE, KEY_FORM),
    previous.map((k) =>
      parseKey(k, PREVIOUS_SECRETS_KEY_VARIABLE, `${KEY_FORM} (several separated by commas)`),
    ),
  );
}
