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
  ProcessRow,
  recordProcessLost,
  recordProcessRejoined,
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

  private async removeModuleTypes(row: ProcessRow) {
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

  private lastHeard(row: ProcessRow): number {
    const hb = this.membership.lastHeartbeat(row.processId);
    return Math.max(hb?.receivedAt ?? 0, Date.parse(row.joinedAt), this.startedAt);
  }

  private async check(): Promise<void> {
    try {
      const now = Date.now();
      const rows = await listWatchedProcesses(this.db);
      for (const row of rows) {
        const info = {
          processId: row.processId,
          nodeId: row.nodeId,
          host: row.host,
          pid: row.pid,
          portOffset: row.portOffset,
        };
        const metadata = { actor: CONTROL_PLANE_ACTOR, correlationId: row.processId };
        const heard = this.lastHeard(row);
        let recorded = false;
        if (row.status === 'up' && now - heard > this.env.LOST_AFTER_MS) {
          recorded = await recordProcessLost(this.db, info, new Date(heard), metadata);
          if (recorded) {
            this.membership.forget(row.processId);
            void this.removeModuleTypes(row);
            this.logger.warn(
              `process ${row.processId} of node ${row.nodeId} is lost (silent for ${now - heard} ms)`,
            );
          }
        } else if (
          row.status === 'lost' &&
          (this.membership.lastHeartbeat(row.processId)?.receivedAt ?? 0) >
            Date.parse(row.lastSeenAt)
        ) {
          recorded = await recordProcessRejoined(this.db, info, new Date(now), metadata);
          if (recorded) this.logger.log(`process ${row.processId} of node ${row.nodeId} rejoined`);
        }
        if (recorded) this.relay.committed();
      }
    } catch (err) {
      this.logger.warn(`failure check failed: ${(err as Error).message}`);
    }
  }
}
