import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { NatsConnection } from 'nats';
import { Database } from '@plexus/event-store';
import { DATABASE, NATS, RELAY_DATABASE } from './injection-tokens';

/** Closes the connections last, after every other provider has stopped using them. */
@Injectable()
export class ShutdownService implements OnApplicationShutdown {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(RELAY_DATABASE) private readonly relayDb: Database,
  ) {}

  async onApplicationShutdown() {
    await this.nc.drain().catch(() => this.nc.close());
    await this.relayDb.close();
    await this.db.close();
  }
}
