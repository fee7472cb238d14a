import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { JetStreamManager, NatsConnection, StreamInfo } from 'nats';
import { Counter } from 'prom-client';
import {
  clusterReplicas,
  ensureTopology,
  EVENTS_STREAM,
  listenToStatus,
  NODES_BUCKET_STREAM,
} from '@plexus/bus';
import { countNodeDocuments, Database } from '@plexus/event-store';
import { openSessionsBucket } from '@plexus/sessions';
import { ControlPlaneEnv } from '../env';
import { DATABASE, NATS } from '../infra/injection-tokens';
import { RelayService } from '../infra/relay.service';
import { fieldLogger } from '../infra/field-logger';
import { MetricsService } from '../metrics/metrics.service';
import { lostStoreReason, TopologySnapshot } from './topology-check';
import { sleep } from '@plexus/common';

/** JetStream's error code for "stream not found". */
const STREAM_NOT_FOUND = 10059;
/** Documents changed longer ago than this must be in the bucket, relay lag or not. */
const SETTLED_MS = 30_000;

/**
 * Repairs a NATS server that lost its store (a replaced node, a wiped disk): Postgres holds
 * everything NATS holds copies of. The leader looks after every NATS reconnect and every
 * NATS_CHECK_MS (two stream infos), and when a stream or bucket is missing or was re-created, or
 * the events sequence went backwards (lostStoreReason), it re-creates the streams and buckets
 * and republishes every node's current document and desired process count. Workers waiting for a
 * document get it; running workers' watches re-read after the reconnect and see it.
 *
 * Not rebuilt: the events stream's history (the audit log is Postgres; the relay goes on from its
 * cursor), login sessions (users log in again), single-module leases (re-taken by the workers).
 */
@Injectable()
export class NatsRepairService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('NatsRepair');
  private readonly repairs: Counter;
  private timer: NodeJS.Timeout | null = null;
  private unlisten: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private jsm: JetStreamManager | null = null;
  /** What this replica saw at its last look, and under which leadership term. */
  private seen: { term: string; snapshot: TopologySnapshot } | null = null;

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(DATABASE) private readonly db: Database,
    private readonly relay: RelayService,
    private readonly env: ControlPlaneEnv,
    metrics: MetricsService,
  ) {
    this.repairs = metrics.register(
      new Counter({
        name: 'plexus_nats_repairs_total',
        help: 'Times the leader found NATS without its streams or buckets (a lost store) and rebuilt them from Postgres',
        registers: [],
      }),
    );
  }

  onApplicationBootstrap() {
    this.timer = setInterval(() => void this.check('periodic'), this.env.NATS_CHECK_MS);
    this.unlisten = listenToStatus(this.nc, (s) => {
      if (s.type === 'reconnect') void this.afterReconnect();
    });
  }

  /** JetStream may need a moment after a restart: look a few times. */
  private async afterReconnect() {
    for (let i = 0; i < 5 && !this.stopped; i++) {
      if (await this.check('reconnect')) break;
      await sleep(250 * 2 ** i);
    }
  }

  async onModuleDestroy() {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.unlisten?.();
    await this.running;
  }

  /** One look (leader only, one at a time); resolves with whether it completed. */
  async check(why: string): Promise<boolean> {
    if (this.stopped || !this.relay.isLeader) return false;
    if (this.running) {
      await this.running;
      return false;
    }
    let completed = false;
    this.running = this.look(why)
      .then(() => void (completed = true))
      .catch((err) =>
        this.logger.debug?.(`NATS check (${why}) did not complete: ${(err as Error).message}`),
      )
      .finally(() => (this.running = null));
    await this.running;
    return completed;
  }

  private async look(why: string) {
    const term = this.relay.term;
    if (!term) return;
    const previous = this.seen?.term === term ? this.seen.snapshot : null;
    let snapshot = await this.snapshot();
    const settled = previous ? undefined : (await countNodeDocuments(this.db, SETTLED_MS)).older;
    const reason = lostStoreReason(previous, snapshot, settled);
    if (reason) {
      await this.repair(reason, why).catch((err) => {
        this.logger.warn(`NATS repair failed, will try again: ${(err as Error).message}`);
        throw err;
      });
      snapshot = await this.snapshot();
    }
    if (this.relay.term === term) this.seen = { term, snapshot };
  }

  private async repair(reason: string, why: string) {
    this.logger.warn(
      `NATS lost its store (${reason}; found on ${why} check): re-creating streams and buckets and republishing from Postgres`,
    );
    const started = performance.now();
    await ensureTopology(this.nc, {
      eventsMaxAgeMs: this.env.EVENTS_STREAM_MAX_AGE_MS,
      replicas: this.env.NATS_REPLICAS,
      logger: fieldLogger(this.logger),
    });
    await openSessionsBucket(
      this.nc,
      undefined,
      this.env.NATS_REPLICAS ?? clusterReplicas(this.nc),
    );
    const result = await this.relay.republishAll();
    this.repairs.inc();
    this.logger.warn(
      `NATS repaired in ${Math.round(performance.now() - started)} ms: ${result.documents} node documents republished (${result.skipped} already newer), ${result.scaling} desired process counts`,
    );
  }

  private async snapshot(): Promise<TopologySnapshot> {
    this.jsm ??= await this.nc.jetstreamManager({ checkAPI: false });
    const [events, nodes] = await Promise.all([
      this.info(EVENTS_STREAM),
      this.info(NODES_BUCKET_STREAM),
    ]);
    return {
      events: events && { created: events.created, lastSeq: events.state.last_seq },
      nodes: nodes && { created: nodes.created, keys: nodes.state.num_subjects ?? 0 },
    };
  }

  /** A stream's info; null when the server does not have it (any other failure throws). */
  private async info(stream: string): Promise<StreamInfo | null> {
    try {
      return await this.jsm!.streams.info(stream);
    } catch (err) {
      const e = err as { api_error?: { err_code?: number }; message?: string };
      if (e.api_error?.err_code === STREAM_NOT_FOUND || /stream not found/i.test(e.message ?? ''))
        return null;
      throw err;
    }
  }
}
