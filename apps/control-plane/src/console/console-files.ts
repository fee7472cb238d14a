import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Where the console is served. Outside Nest's router, so outside the guard and the API document. */
export const CONSOLE_PATH = '/console';

// The page talks to this origin only; no inline script, no framing.
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The built console: `configured` (PLEXUS_CONSOLE_DIR), else beside the control plane in
 * dist/apps (main.js runs from dist/apps/control-plane), else dist/apps/console of the working
 * directory (a control plane run from its sources, as the integration tests do).
 */
export function consoleDirectory(configured?: string): string | null {
  const candidates = configured
    ? [configured]
    : [join(__dirname, '..', 'console'), join(process.cwd(), 'dist', 'apps', 'console')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? null;
}

/**
 * Serves the web console's static files at /console without a token: the page itself asks for
 * one and sends it with every API call. Hashed assets are cached for good, index.html never, and
 * every other path under /console answers index.html so that deep links and reloads work.
 */
export async function registerConsole(app: NestFastifyApplication, dir: string | null) {
  const fastify = app.getHttpAdapter().getInstance();
  if (!dir) {
    const notBuilt = async (_req: FastifyRequest, reply: FastifyReply) =>
      reply.code(404).send({
        statusCode: 404,
        error: 'Not Found',
        message: 'the web console is not built: run `npm run build:console`',
      });
    fastify.get(CONSOLE_PATH, notBuilt);
    fastify.get(`${CONSOLE_PATH}/*`, notBuilt);
    return;
  }
  await app.register(fastifyStatic as never, { root: dir, serve: false });
  const topFiles = new Set(readdirSync(dir).filter((name) => name !== 'index.html'));

  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    const rest = ((req.params as { '*'?: string })['*'] ?? '').replace(/^\/+/, '');
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    if (rest.startsWith('assets/'))
      return reply.sendFile(rest, { maxAge: '365d', immutable: true });
    if (topFiles.has(rest)) return reply.sendFile(rest, { maxAge: 0 });
    return reply.sendFile('index.html', { maxAge: 0, immutable: false });
  };
  fastify.get(CONSOLE_PATH, serve);
  fastify.get(`${CONSOLE_PATH}/*`, serve);
}
