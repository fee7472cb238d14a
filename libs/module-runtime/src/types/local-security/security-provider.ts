import type { ModuleInstance } from '@plexus/module-sdk';

/** The role a module fills when it checks user names and passwords and keeps login sessions. */
export const SECURITY_IN_UP = 'SECURITY_IN_UP';

/** A live session as a security module shows it to the modules that require it. */
export interface SessionView {
  /** Hash of the token (safe to log), never the token. */
  sessionId: string;
  user: string;
  /** ms since the epoch. */
  expiresAt: number;
}

export type LoginOutcome =
  | { outcome: 'ok'; token: string; user: string; expiresAt: number }
  /** Wrong password or unknown user: the caller must not be told which. */
  | { outcome: 'invalid' }
  /** Too many failures for this user name: try again later. */
  | { outcome: 'throttled'; retryAfterMs: number };

/**
 * What a SECURITY_IN_UP module instance offers: username/password logins and sessions. Session
 * checks answer synchronously when the session is known in memory (the common case) and with a
 * promise otherwise, so a request path can stay synchronous.
 */
export interface UsernamePasswordSecurity extends ModuleInstance {
  readonly securityKind: 'username-password';
  login(username: string, password: string): Promise<LoginOutcome>;
  /** The live session of a token, or null. */
  session(token: string): SessionView | null | Promise<SessionView | null>;
  /** Ends the session of a token everywhere; false when there was none. */
  logout(token: string): Promise<boolean>;
}

export function isUsernamePasswordSecurity(
  instance: ModuleInstance | undefined,
): instance is UsernamePasswordSecurity {
  return (
    !!instance &&
    (instance as Partial<UsernamePasswordSecurity>).securityKind === 'username-password'
  );
}
