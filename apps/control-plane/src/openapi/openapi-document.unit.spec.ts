import type { OpenAPIObject } from '@nestjs/swagger';
import { validateEnv } from '../env';
import { openApiDocumentOffline, openApiText, sortKeys } from './openapi-document';

type Operation = {
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  requestBody?: unknown;
  parameters?: { in: string; name: string }[];
};

const operations = (doc: OpenAPIObject) =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods as Record<string, Operation>).map(([method, op]) => ({
      route: `${method.toUpperCase()} ${path}`,
      method,
      op,
    })),
  );

const refsIn = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.flatMap(refsIn)
    : value && typeof value === 'object'
      ? Object.entries(value).flatMap(([k, v]) =>
          k === '$ref' && typeof v === 'string' ? [v] : refsIn(v),
        )
      : [];

describe('the OpenAPI document (built without servers)', () => {
  let doc: OpenAPIObject;

  beforeAll(async () => {
    doc = await openApiDocumentOffline(
      validateEnv({
        PLEXUS_ADMIN_TOKEN: 'placeholder-admin-token',
        PLEXUS_SECRETS_KEY: Buffer.alloc(32).toString('base64'),
        // Nothing may connect: these ports are closed.
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
        NATS_URL: 'nats://127.0.0.1:1',
      }),
    );
  });

  it('gives every route a success answer with a schema, and only declared error bodies', () => {
    const missing: string[] = [];
    for (const { route, op } of operations(doc)) {
      const statuses = Object.keys(op.responses);
      const success = statuses.filter((s) => /^2/.test(s));
      if (!success.length) missing.push(`${route}: no success status`);
      for (const status of statuses) {
        const content = op.responses[status].content ?? {};
        if (!Object.values(content).some((c) => c.schema))
          missing.push(`${route} ${status}: no schema`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('declares 401, 429 and 503 on every route that needs a token, 403 on every write, 400/413/415 on every body, 412 wherever If-Match is read', () => {
    const missing: string[] = [];
    for (const { route, method, op } of operations(doc)) {
      const want = [
        ...(route === 'GET /health' ? [] : ['401', '429', '503']),
        ...(op.parameters?.some((p) => p.in === 'header' && p.name === 'If-Match') ? ['412'] : []),
        ...(method === 'get' ? [] : ['403']),
        ...(op.requestBody ? ['400', '413', '415'] : []),
      ];
      for (const status of want)
        if (!op.responses[status]) missing.push(`${route}: ${status} not declared`);
    }
    expect(missing).toEqual([]);
  });

  it('resolves every $ref, and answers every 4xx with the one ApiError schema', () => {
    const schemas = doc.components?.schemas ?? {};
    const unresolved = refsIn(doc).filter((r) => !schemas[r.replace('#/components/schemas/', '')]);
    expect(unresolved).toEqual([]);
    const errorBodies = operations(doc).flatMap(({ op }) =>
      Object.entries(op.responses)
        .filter(([status]) => /^4/.test(status))
        .map(([, r]) => JSON.stringify(r.content?.['application/json']?.schema)),
    );
    expect(new Set(errorBodies)).toEqual(new Set(['{"$ref":"#/components/schemas/ApiError"}']));
  });

  it('is written with sorted keys, whatever order it was built in', () => {
    expect(Object.keys(sortKeys({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 0 } }))).toEqual(['a', 'b']);
    expect(JSON.stringify(sortKeys({ a: { d: [{ z: 1, y: 2 }], c: 0 } }))).toBe(
      '{"a":{"c":0,"d":[{"y":2,"z":1}]}}',
    );
    expect(openApiText(doc)).toBe(openApiText(JSON.parse(openApiText(doc))));
  });
});
