import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ProcessRuntimeStatus } from '@plexus/domain';
import { errorText } from '@plexus/common';
import type { ModuleLogger } from '@plexus/module-runtime';
import { healthAnswer } from './health-answer';

export interface ManagementServerOptions {
  port: number;
  host: string;
  /** A runtime status with a health check made for this request. */
  runtimeStatus(): Promise<ProcessRuntimeStatus>;
  metrics: Registry;
  logger: ModuleLogger;
}

/**
 * The optional management port of a worker (`--management-port`): `GET /health` (200 when every
 * module is healthy, else 503, same body) for a load balancer or an orchestrator's probe, and
 * `GET /metrics` in Prometheus's text format. Nothing else; no authentication, so it binds to
 * 127.0.0.1 unless told otherwise.
 */
export class ManagementServer {
  private server: http.Server | null = null;

  constructor(private readonly options: ManagementServerOptions) {}

  /** Listens; rejects when the port cannot be bound (the caller decides what that means). */
  async start(): Promise<number> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const port = (server.address() as AddressInfo).port;
    this.options.logger.log('management port listening', { host: this.options.host, port });
    return port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return send(res, 405, 'application/json', JSON.stringify({ message: 'only GET' }));
      if (path === '/health') {
        const { statusCode, body } = healthAnswer(await this.options.runtimeStatus());
        return send(res, statusCode, 'application/json', JSON.stringify(body));
      }
      if (path === '/metrics')
        return send(
          res,
          200,
          this.options.metrics.contentType,
          await this.options.metrics.metrics(),
        );
      send(res, 404, 'application/json', JSON.stringify({ message: `no ${path} here` }));
    } catch (err) {
      this.options.logger.error('management request failed', { path, error: errorText(err) });
      send(res, 500, 'application/json', JSON.stringify({ message: errorText(err) }));
    }
  }
}

function send(res: http.ServerResponse, status: number, type: string, body: string) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
