import * as http from 'node:http';

/** One Server-Sent Events message as a client parses it. */
export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

/**
 * A small Server-Sent Events client over node:http: it records every message and comment line,
 * and can stop reading (pause) to play a client that falls behind.
 */
export class SseClient {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  /** The body as received, for answers that are not a stream (errors). */
  body = '';
  ended = false;
  private res: http.IncomingMessage | null = null;
  private req: http.ClientRequest | null = null;
  private rest = '';
  private readonly waiters = new Set<() => void>();

  private constructor() {}

  /** Opens `url` and resolves once the status line and headers are in. */
  static open(
    url: string,
    headers: Record<string, string> = {},
    opts: { paused?: boolean } = {},
  ): Promise<SseClient> {
    const client = new SseClient();
    return new Promise((resolve, reject) => {
      client.req = http.get(
        url,
        { headers: { accept: 'text/event-stream', ...headers } },
        (res) => {
          client.res = res;
          client.status = res.statusCode ?? 0;
          client.headers = res.headers;
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => client.take(chunk));
          res.on('end', () => client.finish());
          res.on('close', () => client.finish());
          res.on('error', () => client.finish());
          if (opts.paused) res.pause();
          resolve(client);
        },
      );
      client.req.on('error', (err) => (client.res ? client.finish() : reject(err)));
    });
  }

  /** Starts reading again after `paused`. */
  resume() {
    this.res?.resume();
  }

  close() {
    this.req?.destroy();
  }

  /** Resolves once `check` holds (checked after every chunk); fails after `timeoutMs`. */
  until<T>(check: () => T | undefined | false, timeoutMs = 5000, what = 'a message'): Promise<T> {
    return new Promise((resolve, reject) => {
      const tryNow = () => {
        const value = check();
        if (value) {
          cleanup();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`no ${what} within ${timeoutMs} ms (got ${this.messages.length} messages)`),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(tryNow);
      };
      this.waiters.add(tryNow);
      tryNow();
    });
  }

  /** The data of every message, parsed as JSON. */
  events<T = any>(): T[] {
    return this.messages.filter((m) => m.event !== 'error').map((m) => JSON.parse(m.data) as T);
  }

  private take(chunk: string) {
    this.body += chunk.length < 100_000 && this.body.length < 100_000 ? chunk : '';
    this.rest += chunk;
    let at: number;
    while ((at = this.rest.indexOf('\n\n')) >= 0) {
      const block = this.rest.slice(0, at);
      this.rest = this.rest.slice(at + 2);
      const message: SseMessage = { data: '' };
      let hasData = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
        else if (line.startsWith('id: ')) message.id = line.slice(4);
        else if (line.startsWith('event: ')) message.event = line.slice(7);
        else if (line.startsWith('data: ')) {
          message.data += (hasData ? '\n' : '') + line.slice(6);
          hasData = true;
        }
      }
      if (hasData) this.messages.push(message);
    }
    this.waiters.forEach((w) => w());
  }

  private finish() {
    this.ended = true;
    this.waiters.forEach((w) => w());
  }
}
