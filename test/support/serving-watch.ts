import * as http from 'node:http';

/**
 * GET / on 127.0.0.1:port: the processId of the http-endpoint that answered 200, or null. Over a
 * connection of its own by default; with an agent that keeps connections alive, as a load
 * balancer in front of the processes would.
 */
export function probe(
  port: number,
  timeoutMs = 1000,
  agent: http.Agent | false = false,
): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(text).processId as string) : null);
        } catch {
          resolve(null);
        }
      });
      res.on('error', () => resolve(null));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/** GET / on 127.0.0.1:port: the `message` the http-endpoint answered with 200, or null. */
export function servedMessage(port: number, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(text).message as string) : null);
        } catch {
          resolve(null);
        }
      });
      res.on('error', () => resolve(null));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

export interface ServingRound {
  /** performance.now() when the round's requests were sent. */
  at: number;
  /** The ports that answered, with the process that answered each. */
  serving: { port: number; processId: string }[];
}

/**
 * Probes every port together, every `everyMs`, and keeps every round. Connections are kept alive
 * (one per port), so a process that stalls and resumes finds requests waiting on connections it
 * had already accepted, as it would behind a load balancer.
 */
export class ServingWatch {
  readonly rounds: ServingRound[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(
    private readonly ports: () => number[],
    private readonly everyMs = 30,
  ) {}

  start(): this {
    this.loop = (async () => {
      while (!this.stopped) {
        const at = performance.now();
        const ports = this.ports();
        const answers = await Promise.all(ports.map((p) => probe(p, 1000, this.agent)));
        this.rounds.push({
          at,
          serving: ports
            .map((port, i) => ({ port, processId: answers[i] }))
            .filter((s): s is { port: number; processId: string } => s.processId !== null),
        });
        const wait = this.everyMs - (performance.now() - at);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.agent.destroy();
  }

  /** The latest round (waits for one when there is none yet). */
  latest(): ServingRound | undefined {
    return this.rounds[this.rounds.length - 1];
  }

  /** Rounds sent in [from, to) in which more than one port answered. */
  overlaps(from = 0, to = Infinity): ServingRound[] {
    return this.rounds.filter((r) => r.at >= from && r.at < to && r.serving.length > 1);
  }

  /** Waits for the first round sent at or after `after` that satisfies `check`. */
  async until(
    what: string,
    check: (round: ServingRound) => boolean,
    after = performance.now(),
    timeoutMs = 30_000,
  ): Promise<ServingRound> {
    const end = performance.now() + timeoutMs;
    let seen = 0;
    while (performance.now() < end) {
      for (; seen < this.rounds.length; seen++) {
        const round = this.rounds[seen];
        if (round.at >= after && check(round)) return round;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}
