import type { NatsConnection } from 'nats';
import type { ConfigChange, ModuleConfig, ModuleContext, ModuleHealth } from '@plexus/module-sdk';
import { sessionDroppedSubject } from '@plexus/bus';
import {
  defaultRealm,
  minutesToMs,
  realmKey,
  SessionDropped,
  SessionInfo,
  SessionStore,
} from '@plexus/sessions';
import { BuiltInModuleType, RuntimeModuleContext } from '../../module-type';
import {
  DEFAULT_TIMEOUT_MINS,
  localSecurityConfigSchema,
  validateLocalSecurityConfig,
} from './local-security.schema';
import { DEFAULT_THROTTLE, ThrottlePolicy } from './login-throttle';
import { SharedLoginThrottle } from './shared-login-throttle';
import {
  credentialFingerprint,
  MAX_PASSWORD_LENGTH,
  parseUsers,
  UNKNOWN_USER_HASH,
  UserEntry,
  verifyPassword,
} from './passwords';
import {
  LoginOutcome,
  SECURITY_IN_UP,
  SessionView,
  UsernamePasswordSecurity,
} from './security-provider';
import { errorText, sleep } from '@plexus/common';

/** Session attribute holding the credential fingerprint the session was created with. */
const CREDENTIAL = 'cred';

interface Settings {
  users: Map<string, UserEntry>;
  fingerprints: Map<string, string>;
  timeoutMins: number;
  realm: string;
}

function settingsOf(config: ModuleConfig, ctx: ModuleContext): Settings {
  const problems = validateLocalSecurityConfig(config);
  if (problems.length) throw new Error(problems.join('; '));
  const { users } = parseUsers(config.users ?? '');
  const fingerprints = new Map(
    [...users.values()].map((u) => [u.username, credentialFingerprint(u.encoded)]),
  );
  const timeoutMins = Number(config['sessions.timeout.mins'] ?? DEFAULT_TIMEOUT_MINS);
  const realm = config['sessions.realm']?.trim() || defaultRealm(ctx.nodeId, ctx.moduleId);
  return { users, fingerprints, timeoutMins, realm };
}

/** The report a process sends when it drops a revoked session (see sessionDroppedSubject). */
export interface SessionDroppedReport {
  processId: string;
  nodeId: string;
  moduleId: string;
  realm: string;
  sessionId: string;
  reason: SessionDropped['reason'];
  hrtimeNs: string;
}

/**
 * Users with scrypt password hashes from the config, and login sessions in the shared session
 * store (libs/sessions): a session made on any process is valid on every process of every node
 * whose security module uses the same realm, until it is revoked anywhere or expires.
 *
 * Logins: a wrong password and an unknown user are answered alike (same outcome, same work:
 * the password is checked against a dummy hash of the same cost), and repeated failures for one
 * user name are slowed down, then refused for a while, counted on every process of the realm
 * (SharedLoginThrottle; this process's own counts while NATS does not answer). Neither
 * passwords, tokens nor the users config are ever logged; user names are logged only for users
 * that exist (someone may type a password into the user name field).
 *
 * A session stays valid only while its user exists with the same password hash, so removing a
 * user or changing a password (a config change, applied in place) ends that user's sessions on
 * every process that applied it. `sessions.timeout.mins` changes apply to existing sessions too.
 */
class LocalSecurity implements UsernamePasswordSecurity {
  readonly securityKind = 'username-password' as const;
  private throttle: SharedLoginThrottle;
  private readonly counts = { ok: 0, invalid: 0, throttled: 0 };
  private store: SessionStore;

  private constructor(
    private readonly ctx: ModuleContext,
    private readonly nc: NatsConnection,
    private settings: Settings,
    private readonly policy: ThrottlePolicy,
  ) {
    this.throttle = this.throttleFor(settings.realm);
  }

  /** Failed logins count on every process of the realm (SharedLoginThrottle). */
  private throttleFor(realm: string) {
    return new SharedLoginThrottle({
      nc: this.nc,
      realmKey: realmKey(realm),
      policy: this.policy,
      logger: this.ctx.logger,
    });
  }

  static async start(
    ctx: RuntimeModuleContext,
    policy: ThrottlePolicy = DEFAULT_THROTTLE,
  ): Promise<LocalSecurity> {
    // Not ctx.sessions: logins need the store's synchronous cache and the realm-wide throttle.
    const nc = ctx.services.nats;
    if (!nc)
      throw new Error('local-security needs the process NATS connection (the session store)');
    const settings = settingsOf(ctx.config, ctx);
    const security = new LocalSecurity(ctx, nc, settings, policy);
    security.store = await security.openStore(settings);
    if (!settings.users.size)
      ctx.logger.warn('local-security has no users: nobody can log in', { realm: settings.realm });
    ctx.logger.log('session store open', {
      realm: settings.realm,
      timeoutMins: settings.timeoutMins,
      userCount: settings.users.size,
      sessions: security.store.size,
    });
    return security;
  }

  private openStore(settings: Settings) {
    return SessionStore.open(this.nc, {
      realm: settings.realm,
      timeoutMs: minutesToMs(settings.timeoutMins),
      logger: this.ctx.logger,
      onDropped: (event) => this.reportDropped(event),
    });
  }

  /** Tells whoever listens (benchmarks, monitors) when this process stopped accepting a session. */
  private reportDropped(event: SessionDropped) {
    if (event.reason !== 'revoked' || this.nc.isClosed()) return;
    const report: SessionDroppedReport = {
      processId: this.ctx.processId,
      nodeId: this.ctx.nodeId,
      moduleId: this.ctx.moduleId,
      realm: event.realm,
      sessionId: event.id,
      reason: event.reason,
      hrtimeNs: event.hrtime.toString(),
    };
    try {
      this.nc.publish(sessionDroppedSubject(this.store.realmKey), JSON.stringify(report));
    } catch {
      /* a report is best effort */
    }
  }

  async login(username: string, password: string): Promise<LoginOutcome> {
    if (typeof username !== 'string' || typeof password !== 'string') return { outcome: 'invalid' };
    const name = username.slice(0, 128);
    const decision = await this.throttle.begin(name);
    if (!decision.allowed) {
      this.counts.throttled++;
      this.ctx.logger.warn('login refused: too many failed attempts for this user name', {
        user: this.settings.users.has(name) ? name : undefined,
        retryAfterMs: decision.retryAfterMs,
      });
      return { outcome: 'throttled', retryAfterMs: decision.retryAfterMs };
    }
    if (decision.delayMs) await sleep(decision.delayMs);
    const user = this.settings.users.get(name);
    const matches =
      password.length <= MAX_PASSWORD_LENGTH &&
      (await verifyPassword(password, user?.hash ?? UNKNOWN_USER_HASH));
    if (!user || !matches) {
      this.counts.invalid++;
      this.ctx.logger.warn('login failed', {
        user: user ? name : undefined,
        unknownUser: !user,
        failures: this.throttle.failures(name),
      });
      return { outcome: 'invalid' };
    }
    await this.throttle.succeeded(name);
    const fingerprint = this.settings.fingerprints.get(name)!;
    const { token, session } = await this.store.create(name, { [CREDENTIAL]: fingerprint });
    this.counts.ok++;
    this.ctx.logger.log('login', { user: name, session: session.id.slice(0, 8) });
    return { outcome: 'ok', token, user: name, expiresAt: session.expiresAt };
  }

  session(token: string): SessionView | null | Promise<SessionView | null> {
    const cached = this.store.lookup(token);
    if (cached !== undefined) return this.view(cached);
    return this.store.validate(token).then((s) => this.view(s));
  }

  private view(session: SessionInfo | null): SessionView | null {
    if (!session) return null;
    const expected = this.settings.fingerprints.get(session.user);
    if (!expected || session.attributes[CREDENTIAL] !== expected) return null;
    return { sessionId: session.id, user: session.user, expiresAt: session.expiresAt };
  }

  async logout(token: string): Promise<boolean> {
    const ended = await this.store.revoke(token);
    if (ended) this.ctx.logger.log('logout');
    return ended;
  }

  async reconfigure(_ctx: ModuleContext, { config }: ConfigChange): Promise<'applied'> {
    const next = settingsOf(config, this.ctx);
    if (next.realm !== this.settings.realm) {
      // Open the new realm first: if that fails, the old one keeps serving.
      const store = await this.openStore(next);
      const old = this.store;
      this.store = store;
      this.settings = next;
      this.throttle = this.throttleFor(next.realm);
      await old
        .close()
        .catch((err) =>
          this.ctx.logger.warn('closing the old session store failed', { error: errorText(err) }),
        );
    } else {
      this.store.setTimeoutMs(minutesToMs(next.timeoutMins));
      this.settings = next;
    }
    this.ctx.logger.log('local-security reconfigured', {
      realm: next.realm,
      timeoutMins: next.timeoutMins,
      userCount: next.users.size,
    });
    return 'applied';
  }

  /** UP while the session store follows the shared bucket; DOWN once NATS is closed. */
  health(): ModuleHealth {
    const status = this.nc.isClosed() ? 'DOWN' : this.store.connected ? 'UP' : 'DEGRADED';
    return {
      status,
      details: {
        realm: this.settings.realm,
        timeoutMins: this.settings.timeoutMins,
        userCount: this.settings.users.size,
        sessions: this.store.size,
        logins: { ...this.counts },
        ...(status === 'UP' ? {} : { sessionStore: 'not connected to the shared session bucket' }),
      },
    };
  }

  async stop() {
    await this.store.close();
  }
}

/** The module type with another login throttle policy than the default (tests). */
export function localSecurityTypeWith(options: { throttle?: ThrottlePolicy }): BuiltInModuleType {
  return {
    ...localSecurityType,
    start: (ctx) => LocalSecurity.start(ctx, options.throttle),
  };
}

export const localSecurityType: BuiltInModuleType = {
  name: 'local-security',
  version: '1.0.0',
  description:
    'Users and scrypt password hashes in the config, login sessions shared by every process of the realm ' +
    '(provides SECURITY_IN_UP). users: "name:hash" entries separated by ";", each hash ' +
    'scrypt$N$r$p$salt$hash with salt and hash base64url (make one with ' +
    '`npx ts-node --transpile-only scripts/hash-password.ts NAME`, which reads the password on stdin). ' +
    'sessions.timeout.mins: idle timeout, fractions allowed (default 30). sessions.realm: processes ' +
    'of modules with the same realm share sessions (default "<nodeId>/<moduleId>").',
  secretKeys: ['users'],
  provides: [SECURITY_IN_UP],
  configSchema: localSecurityConfigSchema,
  validateConfig: validateLocalSecurityConfig,
  start: (ctx) => LocalSecurity.start(ctx),
};
