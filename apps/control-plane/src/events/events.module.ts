import { Module } from '@nestjs/common';
import { EventsController } from './events.controller';
import { EventsService } from './events.service';

/** The audit trail: stored events, filtered, paged and exported. */
@Module({
  controllers: [EventsController],
  providers: [EventsService],
})
export class EventsModule {}
