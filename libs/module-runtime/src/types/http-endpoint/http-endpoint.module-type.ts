import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import type {
  ConfigChange,
  ModuleConfig,
  ModuleContext,
  ModuleHealth,
  ModuleInstance,
  ReconfigureResult,
} from '@plexus/module-sdk';
import { BuiltInModuleType } from '../../module-type';
import {
  isUsernamePasswordSecurity,
  SECURITY_IN_UP,
  UsernamePasswordSecurity,
} from '../local-security/security-provider';
import { DEFAULT_MESSAGE, httpEndpointConfigSchema } from './http-endpoint.schema';
import { Send, SessionGate } from './session-gate';

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * An HTTP listener whose answer carries the config it runs with. `message` changes apply in place;
 * a `port` or `bind_address` change binds the new address first and only then closes the old one,
 * so a bad new port leaves the module serving on the old one.
 *
 * With a SECURITY_IN_UP requirement it serves POST /login and POST /logout and answers 401 to
 * every other request without a live session (see SessionGate); GET /endpoint-health stays open.
 */
class HttpEndpoint implements ModuleInstance {
  private server: http.Server;
  private config: ModuleConfig;
  private requests = 0;
  private readonly gate: SessionGate | null;

  constructor(private readonly ctx: ModuleContext) {
    const security = ctx.dependencies[SECURITY_IN_UP];
    if (security && !isUsernamePasswordSecurity(security))
      throw new Error(`the ${SECURITY_IN_UP} module does not offer username/password logins`);
    this.gate = security
      ? new SessionGate(security as UsernamePasswordSecurity, `${ctx.nodeId}/${ctx.moduleId}`)
      : null;
  }

  async open(config: ModuleConfig) {
    this.server = await this.bind(config);
    this.config = config;
  }

  private address(config: ModuleConfig) {
    const port = Number(config.port) + this.ctx.portOffset;
    if (port > 65535)
      throw new Error(`port ${config.port} + offset ${this.ctx.portOffset} is above 65535`);
    return { port, host: config.bind_address ?? '127.0.0.1' };
  }

  private async bind(config: ModuleConfig): Promise<http.Server> {
    const { port, host } = this.address(config);
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5000;
    await listen(server, port, host);
    return server;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    this.requests++;
    const path = (req.url ?? '/').split('?')[0];
    const send: Send = (status, body, headers) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (!this.ctx.mayServe())
      return send(503, {
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'this process is no longer the active one for this module',
      });
    if (req.method === 'GET' && path === '/endpoint-health')
      return send(200, { status: 'OPERATIONAL' });
    if (this.gate) return this.gate.handle(req, path, send, () => this.route(req, path, send));
    this.route(req, path, send);
  }

  private route(req: http.IncomingMessage, path: string, send: Send) {
    if (req.method === 'GET' && path === '/') {
      return send(200, {
        nodeId: this.ctx.nodeId,
        processId: this.ctx.processId,
        moduleId: this.ctx.moduleId,
        message: this.config.message ?? DEFAULT_MESSAGE,
        configVersion: this.ctx.configVersion(),
      });
    }
    send(404, { statusCode: 404, error: 'Not Found', message: `no route ${req.method} ${path}` });
  }

  async reconfigure(_ctx: ModuleContext, { config }: ConfigChange): Promise<ReconfigureResult> {
    const before = this.address(this.config);
    const after = this.address(config);
    if (before.port !== after.port || before.host !== after.host) {
      const next = await this.bind(config); // throws (and keeps the old listener) when the port is taken
      const old = this.server;
      this.server = next;
      await close(old);
    }
    this.config = config;
    return 'applied';
  }

  /** UP while listening, with the port and the requests served so far. */
  health(): ModuleHealth {
    const address = this.server?.address() as AddressInfo | null;
    return {
      status: this.server?.listening ? 'UP' : 'DOWN',
      details: { port: address?.port, requests: this.requests },
    };
  }

  async stop() {
    if (this.server) await close(this.server);
  }
}

export const httpEndpointType: BuiltInModuleType = {
  name: 'http-endpoint',
  version: '1.0.0',
  description:
    'HTTP listener answering GET / with the node, process, module, message and config version. ' +
    'With a SECURITY_IN_UP requirement: POST /login {"username","password"} -> {token, expiresAt}, ' +
    'POST /logout, and 401 to every other request without "Authorization: Bearer <token>" of a ' +
    'live session (GET /endpoint-health stays open)',
  configSchema: httpEndpointConfigSchema,
  async start(ctx) {
    const endpoint = new HttpEndpoint(ctx);
    await endpoint.open(ctx.config);
    return endpoint;
  },
};
