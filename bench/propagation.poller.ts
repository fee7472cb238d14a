import * as http from 'node:http';
import { sleep } from '@plexus/common';

const nsToMs = (ns: bigint) => Number(ns) / 1e6;

/** GET / on one process over a kept-alive connection: the `message` of its JSON answer. */
function getMessage(agent: http.Agent, port: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(text).message);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
  });
}

/**
 * The "served" clock of bench:propagation, the same for a Plexus fleet and a peer fleet: every
 * process is asked GET / on its own kept-alive connection, a new request at most every `everyMs`
 * (at once when the previous answer took longer), until it answers the new message.
 */
export class ServedPoller {
  private readonly agents: http.Agent[];

  constructor(
    private readonly ports: number[],
    private readonly everyMs: number,
    private readonly timeoutMs: number,
  ) {
    this.agents = ports.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  }

  /** The hrtime at which the last of the processes answered `message`. */
  async allServe(message: string): Promise<bigint> {
    const times = await Promise.all(
      this.ports.map(async (port, i) => {
        const deadline = Date.now() + this.timeoutMs;
        while (Date.now() < deadline) {
          const askedNs = process.hrtime.bigint();
          const served = await getMessage(this.agents[i], port).catch(() => undefined);
          const answeredNs = process.hrtime.bigint();
          if (served === message) return answeredNs;
          const waitMs = this.everyMs - nsToMs(answeredNs - askedNs);
          if (waitMs > 0) await sleep(waitMs);
        }
        throw new Error(`the process on :${port} did not serve "${message}" in time`);
      }),
    );
    return times.reduce((a, b) => (b > a ? b : a));
  }

  close() {
    this.agents.forEach((a) => a.destroy());
  }
}

/**
 * Makes `warmup + count` changes one at a time and times each from its acknowledgement (the
 * hrtime `change` resolves with) to the moment every process served it; returns the `count` timed
 * ones in ms, sorted. `settle` runs after each change is served, before the next one.
 */
export async function timeServed(opts: {
  poller: ServedPoller;
  warmup: number;
  count: number;
  gapMs: number;
  change: (message: string) => Promise<bigint>;
  settle?: () => Promise<void>;
  progress: (done: number) => void;
}): Promise<number[]> {
  const served: number[] = [];
  for (let i = 0; i < opts.warmup + opts.count; i++) {
    const message = `served-${i}`;
    const ackNs = await opts.change(message);
    const lastNs = await opts.poller.allServe(message);
    if (i >= opts.warmup) served.push(nsToMs(lastNs - ackNs));
    await opts.settle?.();
    await sleep(opts.gapMs);
    if ((i + 1) % 50 === 0) opts.progress(i + 1);
  }
  return served.sort((a, b) => a - b);
}
