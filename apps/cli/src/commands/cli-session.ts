import { Command, InvalidArgumentError, Option } from 'commander';
import { createPlexusClient, PlexusClient } from '../api/plexus-api.client';
import { configPath, Connection, readConfig, resolveConnection } from '../config/cli-config';
import { Column, formatOutput, OUTPUT_FORMATS, OutputFormat } from '../output/output-format';

/** What a command needs from the root: the connection (flags, env, file) and a typed client. */
export class CliSession {
  private cached: Connection | undefined;

  constructor(private readonly root: Command) {}

  connection(): Connection {
    if (!this.cached) {
      const flags = this.root.opts<{ url?: string; token?: string; context?: string }>();
      this.cached = resolveConnection(flags, process.env, readConfig(configPath()));
    }
    return this.cached;
  }

  client(): PlexusClient {
    return createPlexusClient(this.connection());
  }

  /** A fetch of a path with the session's auth (for streams openapi-fetch does not read). */
  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const conn = this.connection();
    const headers = new Headers(init.headers);
    if (conn.token) headers.set('Authorization', `Bearer ${conn.token}`);
    return fetch(`${conn.url}${path}`, { ...init, headers });
  }
}

export const print = (text: string) => process.stdout.write(text);

/** `-o table|json|yaml` on a read command. */
export const outputOption = () =>
  new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table');

export function printOutput<D, T>(
  data: D,
  format: OutputFormat,
  table: { rows: (data: D) => readonly T[]; columns: readonly Column<T>[] },
) {
  print(formatOutput(data, format, table));
}

/** An integer option/argument parser: a malformed value is a usage error (exit 2). */
export const integer =
  (min = 0) =>
  (value: string): number => {
    if (!/^-?\d+$/.test(value) || Number(value) < min)
      throw new InvalidArgumentError(`must be an integer of at least ${min}`);
    return Number(value);
  };

/** Collects repeated `KEY=VALUE` options into a map. */
export const keyValue = (value: string, previous: Record<string, string> = {}) => {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`"${value}" must be KEY=VALUE`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
};

export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** --if-match and --reason of every write. */
export function writeOptions(cmd: Command): Command {
  return cmd
    .option('--if-match <version>', 'refuse (412) unless the node is at this version', integer(0))
    .option('--reason <text>', 'why: recorded with the events of the change');
}
