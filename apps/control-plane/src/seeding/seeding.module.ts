import { Module } from '@nestjs/common';
import { SeedingController } from './seeding.controller';

/** A node's first start: the NATS request a worker sends to create its node from its file. */
@Module({
  controllers: [SeedingController],
})
export class SeedingModule {}
