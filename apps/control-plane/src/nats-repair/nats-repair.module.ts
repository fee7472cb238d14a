import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { NatsRepairService } from './nats-repair.service';

/** Recreates NATS streams and buckets lost with a NATS restart, and refills them from Postgres. */
@Module({
  imports: [MetricsModule],
  providers: [NatsRepairService],
})
export class NatsRepairModule {}
