import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { NatsConnection } from 'nats';
import { NatsConnectionState } from '@plexus/bus';
import { Database } from '@plexus/event-store';
import { Public } from '../auth/public.decorator';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { RelayService } from '../infra/relay.service';
import { DATABASE, NATS } from '../infra/injection-tokens';
import { ApiAnswer } from '../openapi/api-responses.decorator';
import { ref } from '../openapi/schema-ref';

/** DESIGN.md's `{status, postgres, nats}`: 200 when both answer, 503 (fast) when one does not. */
@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly breakers: DependencyBreakers,
    private readonly relay: RelayService,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly natsState: NatsConnectionState,
  ) {}

  private async check(key: 'postgres' | 'nats', probe: () => Promise<unknown>) {
    const indicator = this.indicator.check(key);
    try {
      await this.breakers.run(key, probe);
      return indicator.up();
    } catch (err) {
      return indicator.down({ message: (err as Error).message });
    }
  }

  @Get()
  @ApiAnswer(200, 'Health', 'Postgres and NATS answer')
  @ApiResponse({
    status: 503,
    description: 'Postgres or NATS does not answer (the body says which); retry after Retry-After',
    headers: { 'Retry-After': { description: 'seconds', schema: { type: 'integer' } } },
    schema: ref('Health'),
  })
  async get(@Res({ passthrough: true }) res: FastifyReply) {
    const result = await this.health
      .check([
        () => this.check('postgres', () => this.db.query('SELECT 1')),
        () =>
          this.check('nats', async () => {
            if (!this.natsState.isUp) throw new Error('not connected');
            await this.nc.rtt();
          }),
      ])
      .catch((err) => err.response);
    const up = (k: string) => (result.details?.[k]?.status === 'up' ? 'up' : 'down');
    const status = result.status === 'ok' ? 'ok' : 'error';
    res.status(status === 'ok' ? 200 : 503);
    if (status !== 'ok') res.header('Retry-After', '2');
    return {
      status,
      postgres: up('postgres'),
      nats: up('nats'),
      relay: this.relay.isLeader ? 'leader' : 'standby',
      /** The leadership term this replica holds (it grows on every takeover); null on a standby. */
      relayTerm: this.relay.term,
      relayLagMs: this.relay.lastLagMs,
    };
  }
}
