import type { ApiErrorBody } from './schema';

/** An answer of the admin API that was not a success, with its `{statusCode, error, message}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Called on every 401, so the page can drop the token and ask for another. */
export type OnUnauthorized = (message: string) => void;

/**
 * The console's only way to the admin API: same origin, `Authorization: Bearer` on every call,
 * JSON in and out. A non-2xx answer throws an ApiError carrying the API's own message.
 */
export class ApiClient {
  constructor(
    readonly token: string,
    private readonly onUnauthorized: OnUnauthorized = () => undefined,
  ) {}

  async request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(path, options);
    const text = await res.text();
    return (text ? JSON.parse(text) : null) as T;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>(path, { signal });
  }

  /** The raw response of a successful call (streams: /watch). */
  async send(path: string, { method = 'GET', body, headers, signal }: RequestOptions) {
    const res = await fetch(path, {
      method,
      signal,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.ok) return res;
    const error = await errorOf(res);
    if (res.status === 401) this.onUnauthorized(error.message);
    throw error;
  }
}

async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as Partial<ApiErrorBody>;
    if (body && typeof body.message === 'string') message = body.message;
    else if (body && Array.isArray(body.message)) message = (body.message as string[]).join('; ');
  } catch {
    // Not JSON: the status line says enough.
  }
  return new ApiError(res.status, message);
}

/** A query string of the given values, leaving out empty ones. */
export function query(values: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values))
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** A path segment of an ID, escaped. */
export const seg = encodeURIComponent;
