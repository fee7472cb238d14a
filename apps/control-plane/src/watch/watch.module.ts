import { Module } from '@nestjs/common';
import { WatchController } from './watch.controller';
import { WatchService } from './watch.service';

/** GET /watch: the events as Server-Sent Events, live from NATS, resumable from Postgres. */
@Module({
  controllers: [WatchController],
  providers: [WatchService],
})
export class WatchModule {}
