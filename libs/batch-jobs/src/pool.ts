import type { Pool } from 'pg';

export interface PoolSettings {
  /** `postgres://…` or Smile CDR's JDBC form `jdbc:postgresql://host:port/db?…`. */
  url: string;
  username?: string;
  password?: string;
  /** Most connections open at once (`db.connectionpool.maxtotal`). */
  maxTotal: number;
  /** Connections kept open while idle (`db.connectionpool.maxidle`); more are closed after IDLE_CLOSE_MS. */
  maxIdle: number;
  /** Shown in pg_stat_activity, so an operator sees which process holds which connection. */
  applicationName?: string;
}

const IDLE_CLOSE_MS = 1000;

/** A JDBC URL (as in Smile CDR files) as the connection string pg understands. */
export function pgConnectionString(url: string): string {
  const trimmed = url.trim();
  return trimmed.startsWith('jdbc:') ? trimmed.slice('jdbc:'.length) : trimmed;
}

/**
 * A pool of at most maxTotal connections; idle ones beyond maxIdle are closed after a second
 * (pg's `min` keeps that many, its idle timeout ends the rest).
 */
export function openPool(settings: PoolSettings): Pool {
  // Loaded on first use: the worker bundles this library, and pg costs an idle worker several MB
  // of memory whether or not it runs a persistence module (issue 4's RSS target is 90 MB).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Pool: PgPool } = require('pg') as typeof import('pg');
  const pool = new PgPool({
    connectionString: pgConnectionString(settings.url),
    ...(settings.username ? { user: settings.username } : {}),
    ...(settings.password ? { password: settings.password } : {}),
    max: settings.maxTotal,
    min: Math.min(settings.maxIdle, settings.maxTotal),
    idleTimeoutMillis: IDLE_CLOSE_MS,
    connectionTimeoutMillis: 5000,
    application_name: settings.applicationName?.slice(0, 63),
  });
  // An idle client that loses its connection emits here; without a listener it would crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/** Connections in use and open, for status reports. */
export function poolUsage(pool: Pool) {
  return {
    total: pool.totalCount,
    idle: pool.idleCount,
    inUse: pool.totalCount - pool.idleCount,
    waiting: pool.waitingCount,
  };
}
