import { Client } from 'pg';

/** Advisory lock key shared by every control-plane replica of a cluster ("plexus relay"). */
export const RELAY_LOCK_KEY = 0x706c7872;

export interface LeaderLockOptions {
  retryMs?: number;
  onAcquired: () => void;
  onLost: () => void | Promise<void>;
  onError?: (err: unknown) => void;
}

/**
 * Holds a Postgres session advisory lock on a dedicated connection. Only one replica holds it;
 * when the holder dies its connection closes, Postgres releases the lock and the next replica
 * to try takes over. Losing the connection means losing leadership: `onLost` runs at once.
 */
export class LeaderLock {
  private client: Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private leader = false;

  constructor(
    private readonly url: string,
    private readonly key: number,
    private readonly options: LeaderLockOptions,
  ) {}

  get isLeader() {
    return this.leader;
  }

  start(): void {
    this.stopped = false;
    void this.attempt();
  }

  private schedule() {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.attempt(), this.options.retryMs ?? 1000);
  }

  private async attempt() {
    try {
      if (!this.client) {
        const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
        client.on('error', (err) => void this.lose(err));
        client.on('end', () => void this.lose(new Error('leader lock connection ended')));
        await client.connect();
        this.client = client;
      }
      const { rows } = await this.client.query('SELECT pg_try_advisory_lock($1) AS locked', [
        this.key,
      ]);
      if (rows[0].locked && !this.stopped) {
        this.leader = true;
        this.options.onAcquired();
        return; // hold it until the connection goes or we stop
      }
    } catch (err) {
      this.options.onError?.(err);
      await this.dropClient();
    }
    this.schedule();
  }

  private async lose(err: unknown) {
    const wasLeader = this.leader;
    this.leader = false;
    await this.dropClient();
    if (wasLeader) {
      this.options.onError?.(err);
      await this.options.onLost();
    }
    if (!this.timer || wasLeader) this.schedule();
  }

  private async dropClient() {
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const wasLeader = this.leader;
    this.leader = false;
    if (wasLeader) await this.options.onLost();
    if (this.client && wasLeader)
      await this.client.query('SELECT pg_advisory_unlock($1)', [this.key]).catch(() => undefined);
    await this.dropClient();
  }
}
