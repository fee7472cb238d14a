import { INestApplication } from '@nestjs/common';
import { AddressInfo } from 'node:net';
import { createControlPlane } from '../../apps/control-plane/src/main';
import { validateEnv } from '../../apps/control-plane/src/env';
import { OpenApiContract } from './openapi-contract';
import { TEST_SECRETS_KEY } from './secrets';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  ms: number;
}

/**
 * A small admin API client: JSON in, JSON out, bearer token on every call. With
 * `retryUnavailable`, a 503 is retried that many times after its Retry-After (at most 2 s), as
 * Kubernetes' client-go does; without it, every answer is returned as it came. With a
 * `contract` (validateAgainst), every answer is checked against the OpenAPI document first.
 */
export class AdminApi {
  constructor(
    readonly baseUrl: string,
    readonly token: string | null = TEST_ADMIN_TOKEN,
    readonly options: { retryUnavailable?: number; contract?: OpenApiContract } = {},
  ) {}

  /** The same client, checking every answer against the document (throws on any difference). */
  validateAgainst(document: object | OpenApiContract): AdminApi {
    const contract =
      document instanceof OpenApiContract ? document : new OpenApiContract(document as never);
    return new AdminApi(this.baseUrl, this.token, { ...this.options, contract });
  }

  async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    for (let retries = this.options.retryUnavailable ?? 0; ; retries--) {
      const res = await this.requestOnce<T>(method, path, body, headers);
      if (res.status !== 503 || retries <= 0) return res;
      const afterSeconds = Number(res.headers.get('retry-after')) || 1;
      await new Promise((r) => setTimeout(r, Math.min(afterSeconds, 2) * 1000));
    }
  }

  private async requestOnce<T>(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<ApiResponse<T>> {
    const started = performance.now();
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: keep the text */
    }
    this.options.contract?.check({
      method,
      path,
      status: res.status,
      contentType: res.headers.get('content-type'),
      body: parsed,
    });
    return {
      status: res.status,
      headers: res.headers,
      body: parsed,
      ms: performance.now() - started,
    };
  }

  get = <T = any>(path: string, headers?: Record<string, string>) =>
    this.request<T>('GET', path, undefined, headers);
  put = <T = any>(path: string, body: unknown, headers?: Record<string, string>) =>
    this.request<T>('PUT', path, body, headers);
  patch = <T = any>(path: string, body: unknown, headers?: Record<string, string>) =>
    this.request<T>('PATCH', path, body, headers);
  post = <T = any>(path: string, body?: unknown, headers?: Record<string, string>) =>
    this.request<T>('POST', path, body, headers);
  delete = <T = any>(path: string, headers?: Record<string, string>) =>
    this.request<T>('DELETE', path, undefined, headers);
}

/**
 * The client of end-to-end tests whose subject is not an outage. On two loaded cores a Postgres
 * call now and then outlasts the breaker's timeout, and the API rightly answers 503 with
 * Retry-After; a real client retries that, and so do these tests. Outage tests (which assert the
 * 503) use a plain AdminApi.
 */
export const retryingAdminApi = (baseUrl: string, token: string | null = TEST_ADMIN_TOKEN) =>
  new AdminApi(baseUrl, token, { retryUnavailable: 3 });

export interface RunningControlPlane {
  app: INestApplication;
  url: string;
  api: AdminApi;
  close(): Promise<void>;
}

/** The control plane in this test process (same code as main.ts), on a free port. */
export async function startControlPlane(opts: {
  databaseUrl: string;
  natsUrl?: string;
  idlePollMs?: number;
  /** More environment variables (e.g. WEBHOOK_RETRY_BASE_MS). */
  env?: Record<string, string>;
}): Promise<RunningControlPlane> {
  const env = validateEnv({
    DATABASE_URL: opts.databaseUrl,
    NATS_URL: opts.natsUrl ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    PORT: '0',
    PLEXUS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    PLEXUS_SECRETS_KEY: TEST_SECRETS_KEY,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RELAY_IDLE_POLL_MS: String(opts.idlePollMs ?? 250),
    ...opts.env,
  });
  const app = await createControlPlane(env);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return { app, url, api: new AdminApi(url), close: () => app.close() };
}
