import { PickType } from '@nestjs/swagger';
import { plainToInstance, Type } from 'class-transformer';
import {
  IsInt,
  IsIP,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  registerDecorator,
  validateSync,
} from 'class-validator';
import { DEFAULT_NATS_URL } from '@plexus/bus';
import { natsUrlProblem } from '@plexus/config';
import { DEFAULT_NODE_LIMITS } from '@plexus/domain';
import { DEFAULT_DATABASE_URL } from '@plexus/event-store';
import { parseWebhookTargetPolicy } from './hooks/targets';

/** Why a WEBHOOK_ALLOWED_HOSTS value does not parse (naming the bad entry), or null. */
const webhookTargetListProblem = (value: unknown): string | null => {
  try {
    parseWebhookTargetPolicy(String(value));
    return null;
  } catch (err) {
    return (err as Error).message;
  }
};

function IsNatsUrl(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isNatsUrl',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value) => typeof value === 'string' && natsUrlProblem(value) === null,
        defaultMessage: (args) => natsUrlProblem(String(args!.value)) ?? '',
      },
    });
}

function IsWebhookTargetList(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isWebhookTargetList',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value) => webhookTargetListProblem(value) === null,
        defaultMessage: (args) => webhookTargetListProblem(args!.value) ?? '',
      },
    });
}

import { SecretsKeyError, secretsCipherFromEnv } from '@plexus/secrets-crypto';

const SECRETS_KEY_RULE =
  'PLEXUS_SECRETS_KEY must be set: 32 random bytes in base64, e.g. from `openssl rand -base64 32` (it encrypts the secrets stored in Postgres and NATS)';

/** The control plane's environment, parsed and checked once at start (immich style). */
export class ControlPlaneEnv {
  @IsString()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL: string = DEFAULT_DATABASE_URL;

  /** One server, or the servers of a cluster separated by commas. */
  @IsString({ message: 'NATS_URL must be a nats:// or tls:// URL' })
  @IsNatsUrl()
  NATS_URL: string = DEFAULT_NATS_URL;

  /**
   * Replicas of every stream and bucket the control plane creates (and brings existing ones to).
   * Unset: the size of the NATS cluster it connects to, at most 3 (1 on a single server).
   */
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'NATS_REPLICAS must be an integer from 1 to 5' })
  @Min(1, { message: 'NATS_REPLICAS must be an integer from 1 to 5' })
  @Max(5, { message: 'NATS_REPLICAS must be an integer from 1 to 5 (JetStream allows at most 5)' })
  NATS_REPLICAS?: number;

  /** A .creds file (JWT and NKey seed) for NATS servers in operator mode. */
  @IsOptional()
  @IsString()
  NATS_CREDS?: string;

  @Type(() => Number)
  @IsInt({ message: 'PORT must be an integer' })
  @Min(0)
  @Max(65535)
  PORT: number = 9000;

  /** The address the admin API listens on (0.0.0.0: every IPv4 address of the host). */
  @IsIP(undefined, {
    message:
      'BIND_ADDRESS must be an IP address (IPv4 or IPv6) of this host, e.g. 127.0.0.1 or 0.0.0.0',
  })
  BIND_ADDRESS: string = '0.0.0.0';

  /**
   * A client address whose bearer tokens were refused this many times within
   * PLEXUS_AUTH_FAILURE_WINDOW_SECONDS gets 429 until that window ends, without its token being
   * looked at (0: no limit). Successful calls are never counted or refused.
   */
  @Type(() => Number)
  @IsInt({ message: 'PLEXUS_AUTH_FAILURE_LIMIT must be an integer (0: no limit)' })
  @Min(0, { message: 'PLEXUS_AUTH_FAILURE_LIMIT must be at least 0 (0: no limit)' })
  PLEXUS_AUTH_FAILURE_LIMIT: number = 20;

  @Type(() => Number)
  @IsInt({ message: 'PLEXUS_AUTH_FAILURE_WINDOW_SECONDS must be an integer' })
  @Min(1, { message: 'PLEXUS_AUTH_FAILURE_WINDOW_SECONDS must be from 1 to 86400 (a day)' })
  @Max(86_400, { message: 'PLEXUS_AUTH_FAILURE_WINDOW_SECONDS must be from 1 to 86400 (a day)' })
  PLEXUS_AUTH_FAILURE_WINDOW_SECONDS: number = 60;

  /** The built web console served at /console; default dist/apps/console beside this app. */
  @IsOptional()
  @IsString()
  PLEXUS_CONSOLE_DIR?: string;

  @IsString({ message: 'PLEXUS_ADMIN_TOKEN must be set: it is the bootstrap admin token' })
  @IsNotEmpty({ message: 'PLEXUS_ADMIN_TOKEN must be set: it is the bootstrap admin token' })
  @Matches(/^.{16,}$/, { message: 'PLEXUS_ADMIN_TOKEN must be at least 16 characters' })
  PLEXUS_ADMIN_TOKEN: string;

  /** Encrypts secret values at rest (secrets-crypto); checked in full by validateEnv. */
  @IsString({ message: SECRETS_KEY_RULE })
  @IsNotEmpty({ message: SECRETS_KEY_RULE })
  PLEXUS_SECRETS_KEY: string;

  /** Earlier keys, comma separated: values encrypted with them still decrypt (key rotation). */
  @IsOptional()
  @IsString()
  PLEXUS_SECRETS_KEY_PREVIOUS?: string;

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
   * One: under load the next batch forms while the current one commits, so batches are larger
   * and Postgres spends less per write (bench:write, 16 writers: 0.13-0.19 ms of Postgres CPU a
   * write with one, 0.17-0.22 with two, and as many writes/s or more).
   */
  @Type(() => Number)
  @IsInt({ message: 'GROUP_COMMIT_IN_FLIGHT must be an integer' })
  @Min(1, { message: 'GROUP_COMMIT_IN_FLIGHT must be at least 1' })
  GROUP_COMMIT_IN_FLIGHT: number = 1;

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

  /**
   * Postgres cancels a statement of the control plane's pools that runs longer than this (0: no
   * limit). Migrations run on a connection of their own, without it.
   */
  @Type(() => Number)
  @IsInt({ message: 'DB_STATEMENT_TIMEOUT_MS must be an integer' })
  @Min(0, { message: 'DB_STATEMENT_TIMEOUT_MS must be at least 0 (0: no limit)' })
  DB_STATEMENT_TIMEOUT_MS: number = 10_000;

  /**
   * Postgres ends a session of those pools left idle inside a transaction this long (0: never).
   * The control plane's transactions are a few statements with no wait between them, so one left
   * idle means a replica frozen or cut off mid-transaction; and while it stays open the relay
   * cannot pass it (it reads only what no open transaction can still precede), so this bounds how
   * long such a replica holds up every other replica's writes on their way to NATS.
   */
  @Type(() => Number)
  @IsInt({ message: 'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS must be an integer' })
  @Min(0, { message: 'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS must be at least 0 (0: no limit)' })
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: number = 5_000;

  /** A process that has not heartbeated for this long is recorded as lost. */
  @Type(() => Number)
  @IsInt({ message: 'LOST_AFTER_MS must be an integer' })
  @Min(1000, { message: 'LOST_AFTER_MS must be at least 1000 (workers heartbeat every second)' })
  LOST_AFTER_MS: number = 3000;

  /**
   * Process rows that left or were lost longer ago than this move to the archive (GET
   * /processes?archived=true), out of the failure detector's and the listing's way.
   */
  @Type(() => Number)
  @IsInt({ message: 'PROCESS_RETENTION_MS must be an integer' })
  @Min(60_000, { message: 'PROCESS_RETENTION_MS must be at least 60000' })
  PROCESS_RETENTION_MS: number = 24 * 60 * 60 * 1000;

  /** How often the leader moves such rows. */
  @Type(() => Number)
  @IsInt({ message: 'PROCESS_ARCHIVE_EVERY_MS must be an integer' })
  @Min(100, { message: 'PROCESS_ARCHIVE_EVERY_MS must be at least 100' })
  PROCESS_ARCHIVE_EVERY_MS: number = 60_000;

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

  /**
   * Which webhook targets are allowed (hooks/targets/target-policy.ts): by default public
   * addresses only, so that a hook cannot reach the control plane's own host, its private
   * network or a cloud metadata service.
   */
  @IsWebhookTargetList()
  WEBHOOK_ALLOWED_HOSTS: string = 'external';

  /** A write that would give a node more modules than this is refused with 413. */
  @Type(() => Number)
  @IsInt({ message: 'NODE_MAX_MODULES must be an integer' })
  @Min(1, { message: 'NODE_MAX_MODULES must be at least 1' })
  NODE_MAX_MODULES: number = DEFAULT_NODE_LIMITS.maxModules;

  /** ...or more keys than this in its properties, or in one module's config or requires. */
  @Type(() => Number)
  @IsInt({ message: 'NODE_MAX_KEYS must be an integer' })
  @Min(1, { message: 'NODE_MAX_KEYS must be at least 1' })
  NODE_MAX_KEYS: number = DEFAULT_NODE_LIMITS.maxKeys;

  /** How often the autoscaler evaluates the nodes with a scaling policy. */
  @Type(() => Number)
  @IsInt({ message: 'SCALE_EVALUATE_MS must be an integer' })
  @Min(100, { message: 'SCALE_EVALUATE_MS must be at least 100' })
  SCALE_EVALUATE_MS: number = 1000;

  /** GET /watch sends a keep-alive comment this often, so that proxies keep an idle stream open. */
  @Type(() => Number)
  @IsInt({ message: 'WATCH_KEEPALIVE_MS must be an integer' })
  @Min(10, { message: 'WATCH_KEEPALIVE_MS must be at least 10' })
  WATCH_KEEPALIVE_MS: number = 15_000;

  /**
   * A GET /watch client is cut off when more than this many events wait in its buffer (written
   * but not yet taken by the client)...
   */
  @Type(() => Number)
  @IsInt({ message: 'WATCH_BUFFER_MAX_EVENTS must be an integer' })
  @Min(1, { message: 'WATCH_BUFFER_MAX_EVENTS must be at least 1' })
  WATCH_BUFFER_MAX_EVENTS: number = 1000;

  /** ...or more than this many bytes. */
  @Type(() => Number)
  @IsInt({ message: 'WATCH_BUFFER_MAX_BYTES must be an integer' })
  @Min(1024, { message: 'WATCH_BUFFER_MAX_BYTES must be at least 1024' })
  WATCH_BUFFER_MAX_BYTES: number = 1024 * 1024;
}

/** What `main.js rotate-secrets` reads: the stores and the keys (no admin token, no port). */
export class SecretsRotationEnv extends PickType(ControlPlaneEnv, [
  'DATABASE_URL',
  'NATS_URL',
  'NATS_CREDS',
  'PLEXUS_SECRETS_KEY',
  'PLEXUS_SECRETS_KEY_PREVIOUS',
] as const) {}

export function validateEnv(raw: Record<string, unknown>): ControlPlaneEnv;
export function validateEnv<E extends SecretsRotationEnv>(
  raw: Record<string, unknown>,
  shape: new () => E,
): E;
export function validateEnv(
  raw: Record<string, unknown>,
  shape: new () => SecretsRotationEnv = ControlPlaneEnv,
): SecretsRotationEnv {
  const env = plainToInstance(shape, raw, { exposeDefaultValues: true });
  const errors = validateSync(env, { whitelist: false });
  const lines = errors.flatMap((e) => Object.values(e.constraints ?? {}));
  if (env.PLEXUS_SECRETS_KEY)
    try {
      secretsCipherFromEnv(env);
    } catch (err) {
      if (!(err instanceof SecretsKeyError)) throw err;
      lines.push(err.message);
    }
  if (lines.length) throw new Error(`invalid environment: ${lines.join('; ')}`);
  return env;
}
