import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { archiveProcesses, Database } from '@plexus/event-store';
import { ControlPlaneEnv } from '../env';
import { LeaderInterval } from '../infra/leader-interval';
import { RelayService } from '../infra/relay.service';
import { DATABASE } from '../infra/injection-tokens';

/**
 * Every PROCESS_ARCHIVE_EVERY_MS, on the replica holding the relay lock, moves the rows of
 * processes that left or were lost more than PROCESS_RETENTION_MS ago to the archive, so that
 * `processes` (what the failure detector, the listing and the counts read) does not grow with
 * every process that ever came and went.
 */
@Injectable()
export class ProcessArchiverService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('ProcessArchiver');
  private readonly interval: LeaderInterval;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    relay: RelayService,
    private readonly env: ControlPlaneEnv,
  ) {
    this.interval = new LeaderInterval(relay, env.PROCESS_ARCHIVE_EVERY_MS, () => this.archive());
  }

  onApplicationBootstrap() {
    this.interval.start();
  }

  onModuleDestroy() {
    return this.interval.stop();
  }

  private async archive(): Promise<void> {
    try {
      const before = new Date(Date.now() - this.env.PROCESS_RETENTION_MS);
      const moved = await archiveProcesses(this.db, before);
      if (moved)
        this.logger.log(`archived ${moved} processes gone since before ${before.toISOString()}`);
    } catch (err) {
      this.logger.warn(`archiving old processes failed, will retry: ${(err as Error).message}`);
    }
  }
}
