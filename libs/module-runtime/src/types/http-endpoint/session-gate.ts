import * as http from 'node:http';
import { SessionView, UsernamePasswordSecurity } from '../local-security/security-provider';

export type Send = (status: number, body: unknown, headers?: Record<string, string>) => void;

/** Largest POST /login body read. */
export const MAX_LOGIN_BODY_BYTES = 16 * 1024;

export const LOGIN_FAILED_MESSAGE = 'invalid user name or password';
export const SESSION_REQUIRED_MESSAGE =
  'a live session is required: POST /login, then send Authorization: Bearer <token>';

const error = (statusCode: number, name: string, message: string) => ({
  statusCode,
  error: name,
  message,
});

/**
 * The token of `Authorization: Bearer <token>`, or null. Reads rawHeaders: `req.headers` is built
 * lazily by Node, and building it would be most of what a session check costs per request.
 */
export function bearerToken(req: http.IncomingMessage): string | null {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length !== 13 || name.toLowerCase() !== 'authorization') continue;
    const value = raw[i + 1];
    if (value.length < 8 || value.length > 512) return null;
    if (value.slice(0, 7).toLowerCase() !== 'bearer ') return null;
    const token = value.slice(7).trim();
    return token && !token.includes(' ') ? token : null;
  }
  return null;
}

class BodyTooLarge extends Error {}

function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('the request was aborted'));
    });
  });
}

/**
 * The session check of an http-endpoint that requires SECURITY_IN_UP:
 * - `POST /login` with JSON `{"username", "password"}`: 200 `{token, expiresAt}`; a wrong password
 *   and an unknown user both get the same 401; too many failures for one user name get 429 with
 *   Retry-After (seconds);
 * - `POST /logout` with a live session: ends it everywhere (204);
 * - anything else: 401 without a live session (`Authorization: Bearer <token>`), else served.
 * While NATS is down, sessions known to this process keep working and unknown tokens get 401;
 * a login or logout, which must write to the session store, gets 503.
 * Nothing here logs a request, a password or a token.
 */
export class SessionGate {
  constructor(
    private readonly security: UsernamePasswordSecurity,
    private readonly realmHint: string,
  ) {}

  handle(req: http.IncomingMessage, path: string, send: Send, serve: () => void) {
    if (path === '/login') {
      if (req.method !== 'POST')
        return send(405, error(405, 'Method Not Allowed', 'use POST /login'), { allow: 'POST' });
      return void this.login(req, send);
    }
    const token = bearerToken(req);
    if (!token) return this.unauthorized(send);
    const checked = this.security.session(token);
    if (checked instanceof Promise) {
      checked.then(
        (session) => this.admit(req, path, send, serve, token, session),
        () => this.unavailable(send),
      );
    } else {
      this.admit(req, path, send, serve, token, checked);
    }
  }

  private admit(
    req: http.IncomingMessage,
    path: string,
    send: Send,
    serve: () => void,
    token: string,
    session: SessionView | null,
  ) {
    if (!session) return this.unauthorized(send);
    if (path === '/logout' && req.method === 'POST') {
      this.security.logout(token).then(
        (ended) => (ended ? send(204, undefined) : this.unauthorized(send)),
        () => this.unavailable(send),
      );
      return;
    }
    serve();
  }

  private unauthorized(send: Send) {
    send(401, error(401, 'Unauthorized', SESSION_REQUIRED_MESSAGE), {
      'www-authenticate': `Bearer realm="${this.realmHint}"`,
    });
  }

  private unavailable(send: Send) {
    send(503, error(503, 'Service Unavailable', 'the session store is unavailable; try again'), {
      'retry-after': '1',
    });
  }

  private async login(req: http.IncomingMessage, send: Send) {
    let credentials: { username: unknown; password: unknown };
    try {
      const text = await readBody(req, MAX_LOGIN_BODY_BYTES);
      credentials = JSON.parse(text) as { username: unknown; password: unknown };
    } catch (err) {
      if (err instanceof BodyTooLarge)
        return send(
          413,
          error(413, 'Payload Too Large', `the body is larger than ${MAX_LOGIN_BODY_BYTES} bytes`),
          { connection: 'close' },
        );
      return this.badLogin(send);
    }
    if (
      !credentials ||
      typeof credentials.username !== 'string' ||
      typeof credentials.password !== 'string' ||
      !credentials.username
    )
      return this.badLogin(send);
    let outcome;
    try {
      outcome = await this.security.login(credentials.username, credentials.password);
    } catch {
      return this.unavailable(send);
    }
    if (outcome.outcome === 'ok')
      return send(
        200,
        { token: outcome.token, expiresAt: new Date(outcome.expiresAt).toISOString() },
        { 'cache-control': 'no-store' },
      );
    if (outcome.outcome === 'throttled') {
      const seconds = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
      return send(
        429,
        error(
          429,
          'Too Many Requests',
          `too many failed logins for this user name; try again in ${seconds} s`,
        ),
        { 'retry-after': String(seconds) },
      );
    }
    send(401, error(401, 'Unauthorized', LOGIN_FAILED_MESSAGE), {
      'www-authenticate': `Bearer realm="${this.realmHint}"`,
    });
  }

  private badLogin(send: Send) {
    send(
      400,
      error(400, 'Bad Request', 'the body must be JSON {"username": string, "password": string}'),
    );
  }
}
