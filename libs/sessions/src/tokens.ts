import * as crypto from 'node:crypto';

/** Random bytes in a session token (256 bits). */
export const TOKEN_BYTES = 32;
/** Characters of a token: 32 bytes in base64url without padding. */
export const TOKEN_LENGTH = 43;

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** A new session token: 32 random bytes, base64url (43 characters). Only its holder knows it. */
export function newSessionToken(): string {
  return crypto.randomBytes(TOKEN_BYTES).toString('base64url');
}

/** Whether a string has the shape of a session token (anything else is refused without a lookup). */
export function isWellFormedToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

/**
 * The session's ID: SHA-256 of the token, base64url (43 characters, valid in a KV key). The
 * bucket, logs and reports only ever hold this; it cannot be turned back into the token, and a
 * plain hash is enough because the token is 256 random bits (nothing to guess or brute-force).
 */
export function sessionIdOf(token: string): string {
  // crypto.hash (Node >= 20.12) is the one-shot form: a third of the cost, on every request.
  return typeof crypto.hash === 'function'
    ? crypto.hash('sha256', token, 'base64url')
    : crypto.createHash('sha256').update(token).digest('base64url');
}
