import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import {
  Database,
  listWatchedProcesses,
  recordProcessLost,
  recordProcessRejoined,
  WatchedProcess,
} from '@plexus/event-store';
import type { KV, NatsConnection } from 'nats';
import { openModuleTypesBucket, removeProcessModuleTypes } from '@plexus/bus';
import { errorText } from '@plexus/common';
import { CONTROL_PLANE_ACTOR } from '../auth/actors';
import { ControlPlaneEnv } from '../env';
import { LeaderInterval } from '../infra/leader-interval';
import { RelayService } from '../infra/relay.service';
import { DATABASE, NATS } from '../infra/injection-tokens';
import { MembershipService } from './membership.service';

const CHECK_EVERY_MS = 250;
/**
 * How often the up and lost processes are read again from Postgres; between reads they are judged
 * from memory against the heartbeats. Reading them on every check (4 times a second) was most of
 * the control plane's CPU with 10,000 processes (bench:scale). The cost: a process recorded as
 * joined after the last read is judged from the next one, so one that dies within this long of
 * joining is found lost up to this much later.
 */
const RELOAD_EVERY_MS = 2000;
/** Lost or rejoined processes recorded at once (each holds one Postgres connection meanwhile). */
const RECORD_CONCURRENCY = 4;

/**
 * Records ProcessLost for a process that has not heartbeated for LOST_AFTER_MS, and a rejoin when
 * a lost one heartbeats again. Runs on the replica that holds the relay lease, so exactly one
 * replica judges (another takes over with the lease). Every replica hears every heartbeat, so the
 * one taking over already knows who is alive; after its own start it waits LOST_AFTER_MS before
 * judging anyone, having heard nobody yet. A lost process's module types leave the catalogue
 * (a process that comes back puts them again itself, ModuleTypePublisher).
 */
@Injectable()
export class FailureDetectorService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('FailureDetector');
  private readonly startedAt = Date.now();
  private readonly interval: LeaderInterval;
  private moduleTypes: Promise<KV> | null = null;
  /** The up and lost processes as last read, kept up to date with what this replica records. */
  private watched: WatchedProcess[] = [];
  private loadedAt = 0;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly membership: MembershipService,
    private readonly relay: RelayService,
    private readonly env: ControlPlaneEnv,
  ) {
    this.interval = new LeaderInterval(relay, CHECK_EVERY_MS, () => this.check());
  }

  onApplicationBootstrap() {
    this.interval.start();
  }

  onModuleDestroy() {
    return this.interval.stop();
  }

  private async removeModuleTypes(row: WatchedProcess) {
    try {
      this.moduleTypes ??= openModuleTypesBucket(this.nc);
      await removeProcessModuleTypes(await this.moduleTypes, row.nodeId, row.processId);
    } catch (err) {
      this.moduleTypes = null;
      // Its entries then expire with the bucket's max age (MODULE_TYPES_MAX_AGE_MS).
      this.logger.warn(
        `cannot remove the module types of lost process ${row.processId}: ${errorText(err)}`,
      );
    }
  }

  private lastHeard(p: WatchedProcess): number {
    const hb = this.membership.lastHeartbeat(p.processId);
    return Math.max(hb?.receivedAt ?? 0, p.joinedAtMs, this.startedAt);
  }

  private async check(): Promise<void> {
    try {
      if (Date.now() - this.loadedAt >= RELOAD_EVERY_MS) {
        this.loadedAt = Date.now();
        this.watched = await listWatchedProcesses(this.db);
      }
      const now = Date.now();
      const changes: (() => Promise<void>)[] = [];
      for (const p of this.watched) {
        if (p.status === 'up' && now - this.lastHeard(p) > this.env.LOST_AFTER_MS)
          changes.push(() => this.lost(p));
        else if (
          p.status === 'lost' &&
          (this.membership.lastHeartbeat(p.processId)?.receivedAt ?? 0) > p.lastSeenAtMs
        )
          changes.push(() => this.rejoined(p, now));
      }
      // A host that dies takes many processes with it: record them a few at a time, not in turn.
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(RECORD_CONCURRENCY, changes.length) }, async () => {
          while (next < changes.length) await changes[next++]();
        }),
      );
    } catch (err) {
      this.logger.warn(`failure check failed: ${(err as Error).message}`);
    }
  }

  private identity(p: WatchedProcess) {
    return {
      processId: p.processId,
      nodeId: p.nodeId,
      host: p.host,
      pid: p.pid,
      portOffset: p.portOffset,
    };
  }

  private metadata(p: WatchedProcess) {
    return { actor: CONTROL_PLANE_ACTOR, correlationId: p.processId };
  }

  private async lost(p: WatchedProcess) {
    const heard = this.lastHeard(p);
    const now = Date.now();
    // Heard from while it waited its turn behind other lost processes: alive after all.
    if (now - heard <= this.env.LOST_AFTER_MS) return;
    const recorded = await recordProcessLost(
      this.db,
      this.identity(p),
      new Date(heard),
      this.metadata(p),
    );
    if (!recorded) {
      // No longer up in Postgres (it left, or another replica judged it): not ours until reread.
      p.status = 'left';
      return;
    }
    p.status = 'lost';
    p.lastSeenAtMs = heard;
    this.membership.forget(p.processId);
    void this.removeModuleTypes(p);
    this.logger.warn(
      `process ${p.processId} of node ${p.nodeId} is lost (silent for ${now - heard} ms)`,
    );
    this.relay.committed();
  }

  private async rejoined(p: WatchedProcess, now: number) {
    const recorded = await recordProcessRejoined(
      this.db,
      this.identity(p),
      new Date(now),
      this.metadata(p),
    );
    if (!recorded) {
      p.status = 'left';
      return;
    }
    p.status = 'up';
    p.lastSeenAtMs = now;
    this.logger.log(`process ${p.processId} of node ${p.nodeId} rejoined`);
    this.relay.committed();
  }
}
