import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { createHash } from 'node:crypto';
import {
  AckPolicy,
  ConsumerMessages,
  DeliverPolicy,
  JsMsg,
  NatsConnection,
  Subscription,
} from 'nats';
import { Heartbeat, HEARTBEAT_ALL, MEMBERSHIP_STREAM, MembershipAnnouncement } from '@plexus/bus';
import {
  modulesLimitingToOneProcess,
  ModuleTypeCatalog,
  NodeDocument,
  oneProcessReason,
  ProcessIdentity,
} from '@plexus/domain';
import {
  Database,
  listProcesses,
  readNodeDocument,
  recordProcessJoined,
  recordProcessLeft,
  recordProcessWarning,
} from '@plexus/event-store';
import { ControlPlaneEnv } from '../env';
import { RelayService } from '../infra/relay.service';
import { CATALOG, DATABASE, NATS } from '../infra/injection-tokens';

/** How often every replica drops the heartbeats of processes silent for too long. */
const SWEEP_EVERY_MS = 10_000;
/** Membership announcements recorded at once (each holds one Postgres connection meanwhile). */
const RECORD_CONCURRENCY = 4;

/**
 * Records join/leave announcements from the membership stream (durable: announcements made
 * while no control plane ran are recorded when one starts) and keeps the latest heartbeat of
 * every process in memory. Every replica reads heartbeats; the durable consumer is shared, so
 * each announcement is recorded by one replica (and recording is idempotent besides).
 *
 * A process's heartbeat is forgotten when it leaves (on the replica that records it), when the
 * failure detector records it lost, and on every replica once it has been silent for
 * `forgetSilentAfterMs`, by which time the leader has recorded it lost; so memory follows the
 * live processes, not every process that ever came and went. `onForget` listeners drop what
 * they keep per process at the same moment.
 */
@Injectable()
export class MembershipService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Membership');
  private readonly heartbeats = new Map<string, Heartbeat & { receivedAt: number }>();
  private readonly forgetListeners: ((processId: string) => void)[] = [];
  private heartbeatSub: Subscription | null = null;
  private messages: ConsumerMessages | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  /** Announcements being recorded, and the last one of each node (by its subject token). */
  private readonly recording = new Set<Promise<void>>();
  private readonly recordingByNode = new Map<string, Promise<void>>();
  private stopped = false;
  /** Ten times the lost threshold, at least a minute. */
  readonly forgetSilentAfterMs: number;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly env: ControlPlaneEnv,
    private readonly relay: RelayService,
    @Inject(CATALOG) private readonly catalog: ModuleTypeCatalog,
  ) {
    this.forgetSilentAfterMs = Math.max(10 * env.LOST_AFTER_MS, 60_000);
  }

  lastHeartbeat(processId: string) {
    return this.heartbeats.get(processId);
  }

  /** The processes this replica keeps a heartbeat of (what its memory grows with). */
  trackedProcessIds(): string[] {
    return [...this.heartbeats.keys()];
  }

  /** Calls `listener` with each process whose heartbeat this replica forgets. */
  onForget(listener: (processId: string) => void) {
    this.forgetListeners.push(listener);
  }

  /** The process left or was lost: drop what is kept of it (a later heartbeat brings it back). */
  forget(processId: string) {
    this.heartbeats.delete(processId);
    for (const listener of this.forgetListeners) listener(processId);
  }

  /** Forgets the processes not heard from for `forgetSilentAfterMs`. */
  sweep(now = Date.now()) {
    for (const [processId, hb] of this.heartbeats)
      if (now - hb.receivedAt > this.forgetSilentAfterMs) this.forget(processId);
  }

  /** IDs of a node's processes heard from within the last `withinMs`. */
  liveProcesses(nodeId: string, withinMs: number): string[] {
    const since = Date.now() - withinMs;
    const live: string[] = [];
    for (const [id, hb] of this.heartbeats)
      if (hb.nodeId === nodeId && hb.receivedAt >= since) live.push(id);
    return live;
  }

  /** One durable consumer per cluster (per database), so clusters sharing a NATS do not steal each other's messages. */
  private durableName() {
    const hash = createHash('sha256').update(this.env.DATABASE_URL).digest('hex').slice(0, 12);
    return `control-plane-${hash}`;
  }

  async onApplicationBootstrap() {
    const decoder = new TextDecoder();
    this.heartbeatSub = this.nc.subscribe(HEARTBEAT_ALL, {
      callback: (_err, msg) => {
        try {
          // Stamped in place, not copied: 10,000 processes send 10,000 of these a second.
          const hb = JSON.parse(decoder.decode(msg.data)) as Heartbeat & { receivedAt: number };
          hb.receivedAt = Date.now();
          this.heartbeats.set(hb.processId, hb);
        } catch {
          /* a malformed heartbeat is ignored */
        }
      },
    });
    this.sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    const jsm = await this.nc.jetstreamManager();
    const durable = this.durableName();
    await jsm.consumers
      .add(MEMBERSHIP_STREAM, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: 10_000_000_000,
        // A cluster whose control planes have all been gone for a day leaves no consumer behind.
        inactive_threshold: 24 * 60 * 60 * 1_000_000_000,
      })
      .catch(() => undefined); // exists already
    void this.consume(durable);
  }

  private async consume(durable: string) {
    while (!this.stopped) {
      try {
        const consumer = await this.nc.jetstream().consumers.get(MEMBERSHIP_STREAM, durable);
        this.messages = await consumer.consume({ max_messages: 100 });
        for await (const msg of this.messages) await this.schedule(msg);
      } catch (err) {
        if (!this.stopped)
          this.logger.warn(`membership consumer: ${(err as Error).message}; retrying`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /**
   * Records announcements of different nodes at once (up to RECORD_CONCURRENCY), and those of one
   * node in order, so a process's `left` never overtakes its `joined` and the process-limit check
   * counts joins one at a time. Recorded one by one, joins went at ~40 a second (a few round
   * trips each): 10,000 processes took minutes to be listed, and a `left` queued behind joins for
   * longer than LOST_AFTER_MS was recorded as ProcessLost first (bench:scale).
   */
  private async schedule(msg: JsMsg) {
    while (this.recording.size >= RECORD_CONCURRENCY) await Promise.race(this.recording);
    const nodeToken = msg.subject.split('.')[2];
    const previous = this.recordingByNode.get(nodeToken);
    const task: Promise<void> = (previous ?? Promise.resolve()).then(() => this.record(msg));
    this.recording.add(task);
    this.recordingByNode.set(nodeToken, task);
    void task.finally(() => {
      this.recording.delete(task);
      if (this.recordingByNode.get(nodeToken) === task) this.recordingByNode.delete(nodeToken);
    });
  }

  private async record(msg: JsMsg) {
    try {
      const a = msg.json<MembershipAnnouncement>();
      const info = {
        processId: a.processId,
        nodeId: a.nodeId,
        host: a.host,
        pid: a.pid,
        portOffset: a.portOffset,
      };
      const metadata = { actor: `process:${a.processId}`, correlationId: a.processId };
      const at = new Date(a.at);
      // Clusters may share a NATS: a process of a node this cluster does not have is not ours.
      const doc = await readNodeDocument(this.db, a.nodeId);
      if (!doc) {
        msg.ack();
        return;
      }
      const recorded =
        a.what === 'joined'
          ? await recordProcessJoined(this.db, info, at, metadata)
          : a.what === 'left' && (await recordProcessLeft(this.db, info, at, metadata));
      if (recorded && a.what === 'joined') await this.checkProcessLimit(doc, info, metadata);
      if (recorded) this.relay.committed();
      if (a.what === 'left') this.forget(a.processId);
      msg.ack();
    } catch (err) {
      this.logger.warn(`could not record a membership announcement: ${(err as Error).message}`);
      msg.nak(1000);
    }
  }

  /**
   * A process joining a node that one of its modules limits to one process (a local index run
   * active/active) is not refused, since it may be the replacement of one that is going away, but
   * recorded as ProcessLimitExceeded, which says why and what to do, and logged.
   */
  private async checkProcessLimit(
    doc: NodeDocument,
    info: ProcessIdentity,
    metadata: { actor: string; correlationId: string },
  ) {
    const limiting = modulesLimitingToOneProcess(doc, this.catalog);
    if (!limiting.length) return;
    const up = await listProcesses(this.db, { nodeId: doc.nodeId, status: 'up' });
    if (up.length <= 1) return;
    const reason = oneProcessReason(doc.nodeId, limiting, up.length);
    await recordProcessWarning(
      this.db,
      info,
      'ProcessLimitExceeded',
      { processes: up.length, modules: limiting.map((m) => m.moduleId), reason },
      metadata,
    );
    this.logger.warn(reason);
  }

  async onModuleDestroy() {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.heartbeatSub?.unsubscribe();
    this.messages?.stop();
    await Promise.allSettled(this.recording); // before the database closes
  }
}
