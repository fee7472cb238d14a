import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { HookDeliveryService } from './hook-delivery.service';
import { HooksController } from './hooks.controller';

/** Webhooks: their registration and the delivery of events to them. */
@Module({
  imports: [MetricsModule],
  controllers: [HooksController],
  providers: [HookDeliveryService],
})
export class HooksModule {}
