import createClient, { Client } from 'openapi-fetch';
import { CliError, ExitCode } from '../exit-codes';
import { Connection } from '../config/cli-config';
import type { paths } from './plexus-api.schema';

export type PlexusClient = Client<paths>;

/** How long one API call may take before the control plane counts as unreachable. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** A client typed from the committed openapi.json: paths, bodies and answers. */
export function createPlexusClient(
  conn: Connection,
  requestTimeoutMs = REQUEST_TIMEOUT_MS,
): PlexusClient {
  const client = createClient<paths>({
    baseUrl: conn.url,
    headers: conn.token ? { Authorization: `Bearer ${conn.token}` } : {},
    fetch: (request: Request) =>
      fetch(request, { signal: AbortSignal.timeout(requestTimeoutMs) }).catch((err) => {
        throw unreachable(conn.url, err);
      }),
  });
  return client;
}

/** The CliError for a call that reached no control plane (refused, unresolvable, timed out). */
export function unreachable(url: string, err: unknown): CliError {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const why =
    (err as Error)?.name === 'TimeoutError'
      ? 'no answer in time'
      : (cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err));
  return new CliError(`cannot reach the control plane at ${url}: ${why}`, ExitCode.unreachable);
}

interface ApiAnswer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's body, or a CliError (exit 1) with the API's message and status. */
export async function answerOf<T>(call: Promise<ApiAnswer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  throw apiError(response, error);
}

export function apiError(response: Response, error: unknown): CliError {
  const body = error as { message?: unknown; error?: unknown } | string | undefined;
  const message =
    typeof body === 'string'
      ? body
      : Array.isArray(body?.message)
        ? body.message.join('; ')
        : String(body?.message ?? body?.error ?? response.statusText);
  return new CliError(`${response.status} ${message}`, ExitCode.failed);
}

/** Version N as the If-Match header value the API reads. */
export const ifMatch = (version: number | undefined) =>
  version === undefined ? {} : { 'If-Match': `"${version}"` };

/** X-Plexus-Reason, when a reason is given. */
export const reasonHeader = (reason: string | undefined) =>
  reason === undefined ? {} : { 'X-Plexus-Reason': reason };
