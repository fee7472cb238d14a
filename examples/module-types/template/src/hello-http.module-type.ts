import * as http from 'node:http';
// `import type` only: the SDK is a contract, not a runtime dependency, so this package runs in a
// worker without @plexus/module-sdk installed beside it.
import type {
  ConfigChange,
  ModuleConfig,
  ModuleContext,
  ModuleInstance,
  ModuleType,
  ReconfigureResult,
} from '@plexus/module-sdk';

const DEFAULT_GREETING = 'Hello from a module type of your own';

/** Serves `GET /` with the configured greeting on `port` plus the process's port offset. */
class HelloHttp implements ModuleInstance {
  private greeting: string;

  private constructor(
    private ctx: ModuleContext,
    private readonly server: http.Server,
  ) {
    this.greeting = greetingOf(ctx.config);
    server.on('request', (req, res) => this.handle(req, res));
  }

  static async start(ctx: ModuleContext): Promise<HelloHttp> {
    const server = http.createServer();
    await listen(server, Number(ctx.config.port) + ctx.portOffset);
    ctx.logger.log('hello-http listening', { port: Number(ctx.config.port) + ctx.portOffset });
    return new HelloHttp(ctx, server);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/')
      return send(404, { statusCode: 404, error: 'Not Found', message: 'only GET / is served' });
    send(200, {
      nodeId: this.ctx.nodeId,
      processId: this.ctx.processId,
      moduleId: this.ctx.moduleId,
      greeting: this.greeting,
      configVersion: this.ctx.configVersion(),
    });
  }

  async reconfigure(ctx: ModuleContext, change: ConfigChange): Promise<ReconfigureResult> {
    // A listener cannot move to another port in place here: Plexus stops and starts this module
    // (only this one) with the new config.
    if (change.changedKeys.includes('port') || ctx.portOffset !== this.ctx.portOffset)
      return 'restart';
    this.ctx = ctx;
    this.greeting = greetingOf(change.config);
    return 'applied';
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  health() {
    return this.server.listening
      ? { status: 'UP' as const, details: { greeting: this.greeting } }
      : { status: 'DOWN' as const, details: { reason: 'not listening' } };
  }
}

function greetingOf(config: ModuleConfig): string {
  return config.greeting ?? DEFAULT_GREETING;
}

function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export const helloHttp: ModuleType = {
  name: 'hello-http',
  version: '0.1.0',
  description: 'Answers GET / with a greeting; the smallest module type worth copying.',
  configSchema: {
    type: 'object',
    properties: {
      port: { type: 'integer', minimum: 1, maximum: 65535, description: 'plus the port offset' },
      greeting: { type: 'string', maxLength: 200, default: DEFAULT_GREETING },
    },
    required: ['port'],
    additionalProperties: false,
  },
  start: (ctx) => HelloHttp.start(ctx),
};
