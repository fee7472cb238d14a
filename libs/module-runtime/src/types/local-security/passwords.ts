import { createHash, randomBytes, scrypt, ScryptOptions, timingSafeEqual } from 'node:crypto';

/**
 * Password hashes: scrypt (node:crypto), written as
 *
 *     scrypt$N$r$p$salt$hash
 *
 * with N (CPU/memory cost, a power of 2), r (block size) and p (parallelism) in decimal, and salt
 * and hash in base64url without padding. The hash length is the derived key length. Defaults:
 * N=16384, r=8, p=1, 16-byte salt, 32-byte hash (about 16 MiB and a few tens of ms per check).
 *
 * The `users` config of a local-security module lists users as `name:hash` entries separated by
 * ";" (white space around entries is ignored, so a properties file may continue the value over
 * several lines), e.g. `alice:scrypt$16384$8$1$...$...;bob:scrypt$16384$8$1$...$...`.
 * Make a hash with hashPassword() or `npx ts-node -r tsconfig-paths/register --transpile-only scripts/hash-password.ts`.
 */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams & { saltBytes: number; keyBytes: number } = {
  N: 16384,
  r: 8,
  p: 1,
  saltBytes: 16,
  keyBytes: 32,
};

/** Memory one check may use at most: refuses hashes that would let a config exhaust a process. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
const USERNAME = /^[A-Za-z0-9_.@+-]{1,64}$/;
export const USERNAME_RULE = '1-64 characters of A-Z a-z 0-9 _ . @ + -';
/** Longest password accepted at login (longer ones are refused without hashing). */
export const MAX_PASSWORD_LENGTH = 1024;

export interface PasswordHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

export interface UserEntry {
  username: string;
  /** The encoded hash as configured. */
  encoded: string;
  hash: PasswordHash;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** Parses `scrypt$N$r$p$salt$hash`; a string saying what is wrong when it is not valid. */
export function parsePasswordHash(encoded: string): PasswordHash | string {
  const parts = encoded.split('$');
  const shape = 'a password hash must be scrypt$N$r$p$salt$hash (salt and hash base64url)';
  if (parts.length !== 6 || parts[0] !== 'scrypt') return shape;
  const [N, r, p] = parts.slice(1, 4).map((x) => (/^\d{1,10}$/.test(x) ? Number(x) : NaN));
  if (!(N >= 2 && N <= 2 ** 24 && (N & (N - 1)) === 0))
    return 'scrypt N must be a power of 2 from 2 to 2^24';
  if (!(r >= 1 && r <= 64)) return 'scrypt r must be from 1 to 64';
  if (!(p >= 1 && p <= 16)) return 'scrypt p must be from 1 to 16';
  if (128 * N * r * p > MAX_SCRYPT_MEMORY)
    return 'scrypt parameters need more than 256 MiB (128 * N * r * p)';
  if (!B64URL.test(parts[4]) || !B64URL.test(parts[5])) return shape;
  const salt = Buffer.from(parts[4], 'base64url');
  const hash = Buffer.from(parts[5], 'base64url');
  if (salt.length < 8) return 'the salt must be at least 8 bytes';
  if (hash.length < 16 || hash.length > 64) return 'the hash must be 16 to 64 bytes';
  return { N, r, p, salt, hash };
}

function derive(password: string, salt: Buffer, keyBytes: number, params: ScryptParams) {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: 2 * 128 * params.N * params.r * params.p + 1024 * 1024,
  };
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(password, salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Hashes a password in the `scrypt$N$r$p$salt$hash` format (runs off the event loop). */
export async function hashPassword(
  password: string,
  params: Partial<typeof DEFAULT_SCRYPT> = {},
): Promise<string> {
  const p = { ...DEFAULT_SCRYPT, ...params };
  const salt = randomBytes(p.saltBytes);
  const key = await derive(password, salt, p.keyBytes, p);
  const encoded = `scrypt$${p.N}$${p.r}$${p.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  const problem = parsePasswordHash(encoded);
  if (typeof problem === 'string') throw new Error(problem);
  return encoded;
}

/** Whether `password` matches the hash (constant-time comparison). */
export async function verifyPassword(
  password: string,
  hash: PasswordHash | string,
): Promise<boolean> {
  const parsed = typeof hash === 'string' ? parsePasswordHash(hash) : hash;
  if (typeof parsed === 'string') return false;
  const key = await derive(password, parsed.salt, parsed.hash.length, parsed);
  return timingSafeEqual(key, parsed.hash);
}

/**
 * A hash no password matches, with the default cost: checking an unknown user's password against
 * it takes as long as a real check, so the answer time does not tell whether a user exists.
 */
export const UNKNOWN_USER_HASH: PasswordHash = {
  ...DEFAULT_SCRYPT,
  salt: randomBytes(DEFAULT_SCRYPT.saltBytes),
  hash: randomBytes(DEFAULT_SCRYPT.keyBytes),
};

/**
 * A short fingerprint of a user's configured hash, kept with each session: a session stays valid
 * only while the user's hash is the one it was created with (a password change ends it).
 */
export function credentialFingerprint(encodedHash: string): string {
  return createHash('sha256').update(encodedHash).digest('base64url').slice(0, 16);
}

/**
 * Parses the `users` config: `name:hash` entries separated by ";". Problems name the entry by
 * its position only, never by its content (the value is a secret).
 */
export function parseUsers(value: string): { users: Map<string, UserEntry>; problems: string[] } {
  const users = new Map<string, UserEntry>();
  const problems: string[] = [];
  const entries = value
    .split(';')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  entries.forEach((entry, i) => {
    const where = `users entry ${i + 1}`;
    const colon = entry.indexOf(':');
    if (colon < 0) {
      problems.push(`${where} must be name:hash`);
      return;
    }
    const username = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    if (!USERNAME.test(username)) {
      problems.push(`${where}: a user name must be ${USERNAME_RULE}`);
      return;
    }
    if (users.has(username)) {
      problems.push(`${where}: the user name is given more than once`);
      return;
    }
    const hash = parsePasswordHash(encoded);
    if (typeof hash === 'string') {
      problems.push(`${where}: ${hash}`);
      return;
    }
    users.set(username, { username, encoded, hash });
  });
  return { users, problems };
}

/** Writes users back in the `users` config format. */
export function formatUsers(entries: Array<[username: string, encodedHash: string]>): string {
  return entries.map(([u, h]) => `${u}:${h}`).join(';');
}
