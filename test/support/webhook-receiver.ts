import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface ReceivedDelivery {
  headers: IncomingHttpHeaders;
  /** The raw body, as signed. */
  raw: Buffer;
  body: any;
  /** What the receiver answered. */
  status: number;
  /** When it arrived (Date.now()). */
  receivedAt: number;
}

/** Whether `signature` is `sha256=<hex HMAC-SHA256 of raw with secret>`, computed here independently. */
export function validSignature(secret: string, raw: Buffer, signature: unknown): boolean {
  if (typeof signature !== 'string' || !signature.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const got = Buffer.from(signature.slice('sha256='.length), 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * A webhook target for tests: records every request and answers `status` (200 unless told
 * otherwise). `close()` makes its port refuse connections; `listen()` takes the same port again.
 * It listens on 127.0.0.1: a control plane that posts to it needs WEBHOOK_ALLOWED_HOSTS=loopback.
 */
export class WebhookReceiver {
  readonly received: ReceivedDelivery[] = [];
  status = 200;
  private server: Server | null = null;

  private constructor(public port: number) {}

  static async start(port = 0): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(port);
    await receiver.listen();
    return receiver;
  }

  get url() {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Requests answered 2xx: what the target accepted. */
  get accepted() {
    return this.received.filter((r) => r.status >= 200 && r.status < 300);
  }

  listen(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let body: unknown = null;
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          /* kept raw */
        }
        const status = this.status;
        this.received.push({ headers: req.headers, raw, body, status, receivedAt: Date.now() });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
      });
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
