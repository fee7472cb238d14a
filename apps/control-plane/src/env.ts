import { plainToInstance, Type } from 'class-transformer';
import {
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  validateSync,
} from 'class-validator';
import { DEFAULT_NATS_URL } from '@plexus/bus';
import { DEFAULT_DATABASE_URL } from '@plexus/event-store';

/** The control plane's environment, parsed and checked once at start (immich style). */
export class ControlPlaneEnv {
  @IsString()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL: string = DEFAULT_DATABASE_URL;

  @IsString()
  @Matches(/^(nats|tls):\/\//, { message: 'NATS_URL must be a nats:// or tls:// URL' })
  NATS_URL: string = DEFAULT_NATS_URL;

  /** A .creds file (JWT and NKey seed) for NATS servers in operator mode. */
  @IsOptional()
  @IsString()
  NATS_CREDS?: string;

  @Type(() => Number)
  @IsInt({ message: 'PORT must be an integer' })
  @Min(0)
  @Max(65535)
  PORT: number = 9000;

  @IsString({ message: 'PLEXUS_ADMIN_TOKEN must be set: it is the bootstrap admin token' })
  @IsNotEmpty({ message: 'PLEXUS_ADMIN_TOKEN must be set: it is the bootstrap admin token' })
  @Matches(/^.{16,}$/, { message: 'PLEXUS_ADMIN_TOKEN must be at least 16 characters' })
  PLEXUS_ADMIN_TOKEN: string;

  @IsOptional()
  @IsString()
  LOG_LEVEL: string = 'info';

  @Type(() => Number)
  @IsInt()
  @Min(10)
  RELAY_IDLE_POLL_MS: number = 250;

  /**
   * Relay leadership is a lease in Postgres: a leader that stops renewing it (dead, frozen, cut
   * off) loses it this long after its last renewal, and another replica takes over.
   */
  @Type(() => Number)
  @IsInt({ message: 'LEADER_LEASE_MS must be an integer' })
  @Min(1000, { message: 'LEADER_LEASE_MS must be at least 1000' })
  LEADER_LEASE_MS: number = 5000;

  /** How often the leader checks that NATS still holds its streams and buckets (and repairs them). */
  @Type(() => Number)
  @IsInt({ message: 'NATS_CHECK_MS must be an integer' })
  @Min(100, { message: 'NATS_CHECK_MS must be at least 100' })
  NATS_CHECK_MS: number = 3000;

  /**
   * Group commit: node writes that arrive while this many statements are in flight wait and go
   * together in the next one (one statement and one commit for up to GROUP_COMMIT_MAX_BATCH).
   */
  @Type(() => Number)
  @IsInt({ message: 'GROUP_COMMIT_IN_FLIGHT must be an integer' })
  @Min(1, { message: 'GROUP_COMMIT_IN_FLIGHT must be at least 1' })
  GROUP_COMMIT_IN_FLIGHT: number = 2;

  @Type(() => Number)
  @IsInt({ message: 'GROUP_COMMIT_MAX_BATCH must be an integer' })
  @Min(1, { message: 'GROUP_COMMIT_MAX_BATCH must be at least 1' })
  GROUP_COMMIT_MAX_BATCH: number = 64;

  /** How long the NATS events stream keeps an event (Postgres keeps every event forever). */
  @Type(() => Number)
  @IsInt({ message: 'EVENTS_STREAM_MAX_AGE_MS must be an integer' })
  @Min(120_000, {
    message:
      'EVENTS_STREAM_MAX_AGE_MS must be at least 120000 (the stream deduplicates over 2 minutes)',
  })
  EVENTS_STREAM_MAX_AGE_MS: number = 7 * 24 * 60 * 60 * 1000;

  /** How long a starting control plane waits for Postgres before it gives up and exits. */
  @Type(() => Number)
  @IsInt({ message: 'STARTUP_TIMEOUT_MS must be an integer' })
  @Min(0, { message: 'STARTUP_TIMEOUT_MS must be at least 0' })
  STARTUP_TIMEOUT_MS: number = 30_000;

  /** A process that has not heartbeated for this long is recorded as lost. */
  @Type(() => Number)
  @IsInt({ message: 'LOST_AFTER_MS must be an integer' })
  @Min(1000, { message: 'LOST_AFTER_MS must be at least 1000 (workers heartbeat every second)' })
  LOST_AFTER_MS: number = 3000;

  /** Applied-config reports are recorded as events, coalesced, in one batch this often (see ConfigReportsService). */
  @Type(() => Number)
  @IsInt({ message: 'CONFIG_REPORT_FLUSH_MS must be an integer' })
  @Min(10, { message: 'CONFIG_REPORT_FLUSH_MS must be at least 10' })
  CONFIG_REPORT_FLUSH_MS: number = 1000;

  /** Webhook retries: the first retry waits up to this long, each further one up to twice as long... */
  @Type(() => Number)
  @IsInt({ message: 'WEBHOOK_RETRY_BASE_MS must be an integer' })
  @Min(1, { message: 'WEBHOOK_RETRY_BASE_MS must be at least 1' })
  WEBHOOK_RETRY_BASE_MS: number = 1000;

  /** ...but never longer than this. */
  @Type(() => Number)
  @IsInt({ message: 'WEBHOOK_RETRY_CAP_MS must be an integer' })
  @Min(1, { message: 'WEBHOOK_RETRY_CAP_MS must be at least 1' })
  WEBHOOK_RETRY_CAP_MS: number = 300_000;

  /** A delivery is given up (`failed`) after this many attempts. */
  @Type(() => Number)
  @IsInt({ message: 'WEBHOOK_MAX_ATTEMPTS must be an integer' })
  @Min(1, { message: 'WEBHOOK_MAX_ATTEMPTS must be at least 1' })
  WEBHOOK_MAX_ATTEMPTS: number = 10;

  /** One attempt is abandoned (and counts as failed) after this long. */
  @Type(() => Number)
  @IsInt({ message: 'WEBHOOK_TIMEOUT_MS must be an integer' })
  @Min(1, { message: 'WEBHOOK_TIMEOUT_MS must be at least 1' })
  WEBHOOK_TIMEOUT_MS: number = 5000;

  /** A hook's open breaker lets one trial through after this long. */
  @Type(() => Number)
  @IsInt({ message: 'WEBHOOK_BREAKER_RESET_MS must be an integer' })
  @Min(1, { message: 'WEBHOOK_BREAKER_RESET_MS must be at least 1' })
  WEBHOOK_BREAKER_RESET_MS: number = 30_000;

  /** How often the leader looks for new events and due deliveries. */
  @Type(() => Number)
  @IsInt({ message: 'WEBHOOK_POLL_MS must be an integer' })
  @Min(10, { message: 'WEBHOOK_POLL_MS must be at least 10' })
  WEBHOOK_POLL_MS: number = 250;

  /** How often the autoscaler evaluates the nodes with a scaling policy. */
  @Type(() => Number)
  @IsInt({ message: 'SCALE_EVALUATE_MS must be an integer' })
  @Min(100, { message: 'SCALE_EVALUATE_MS must be at least 100' })
  SCALE_EVALUATE_MS: number = 1000;
}

export function validateEnv(raw: Record<string, unknown>): ControlPlaneEnv {
  const env = plainToInstance(ControlPlaneEnv, raw, { exposeDefaultValues: true });
  const errors = validateSync(env, { whitelist: false });
  if (errors.length) {
    const lines = errors.flatMap((e) => Object.values(e.constraints ?? {}));
    throw new Error(`invalid environment: ${lines.join('; ')}`);
  }
  return env;
}
