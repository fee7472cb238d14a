import type { NatsConnection } from 'nats';
import type { ModuleSession, ModuleSessionStore } from '@plexus/module-sdk';
import { SessionInfo, SessionStore } from '@plexus/sessions';
import { ModuleLogger } from '../module-type';

/** ModuleContext.sessions over the process's shared session store (libs/sessions). */
export function moduleSessionsOver(nc: NatsConnection, logger: ModuleLogger) {
  return async (realm: string, options: { idleTimeoutMs: number }): Promise<ModuleSessionStore> => {
    const store = await SessionStore.open(nc, {
      realm,
      timeoutMs: options.idleTimeoutMs,
      logger,
    });
    return {
      create: async (user, attributes) => {
        const { token, session } = await store.create(user, attributes);
        return { token, expiresAt: session.expiresAt };
      },
      validate: async (token) => moduleSession(await store.validate(token)),
      revoke: (token) => store.revoke(token),
      close: () => store.close(),
    };
  };
}

function moduleSession(info: SessionInfo | null): ModuleSession | null {
  if (!info) return null;
  return { id: info.id, user: info.user, attributes: info.attributes, expiresAt: info.expiresAt };
}
