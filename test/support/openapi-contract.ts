import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The committed contract (`npm run openapi` writes it; openapi-drift.int.spec.ts keeps it true). */
export const OPENAPI_FILE = join(__dirname, '..', '..', 'openapi.json');

export const committedOpenApi = (): OpenApiDocument =>
  JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as OpenApiDocument;

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses?: Record<string, ResponseObject> }>>;
  components?: { schemas?: Record<string, unknown> };
}
interface ResponseObject {
  content?: Record<string, { schema?: unknown }>;
}

const ERROR_SCHEMA = { $ref: '#/components/schemas/ApiError' };

const COMPONENTS_ID = 'https://plexus.invalid/openapi-components.json';

/** `#/components/schemas/X` refs of the document, pointed at the one schema holding them all. */
function pointRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pointRefs);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string'
        ? v.replace('#/components/schemas/', `${COMPONENTS_ID}#/definitions/`)
        : pointRefs(v),
    ]),
  );
}

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  params: number;
}

/**
 * Checks answers of the admin API against its OpenAPI document: the route is documented, the
 * status is declared for it, and a JSON body matches the declared schema (ajv over the
 * document's component schemas, with OpenAPI's `nullable`).
 */
export class OpenApiContract {
  private readonly ajv: Ajv;
  private readonly routes: Route[];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly document: OpenApiDocument) {
    this.ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
    addFormats(this.ajv);
    this.ajv.addKeyword({
      keyword: 'example',
      schemaType: ['string', 'number', 'boolean', 'object', 'array', 'null'],
    });
    this.ajv.addSchema({
      $id: COMPONENTS_ID,
      definitions: pointRefs(document.components?.schemas ?? {}),
    });
    this.routes = Object.entries(document.paths).flatMap(([template, methods]) =>
      Object.keys(methods).map((method) => ({
        method: method.toUpperCase(),
        template,
        pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
        params: (template.match(/\{/g) ?? []).length,
      })),
    );
  }

  /** The documented route a concrete path is served by: fixed segments win, as in Fastify. */
  routeOf(method: string, path: string): string | undefined {
    const bare = path.split('?', 1)[0];
    return this.routes
      .filter((r) => r.method === method.toUpperCase() && r.pattern.test(bare))
      .sort((a, b) => a.params - b.params)[0]?.template;
  }

  /** Problems of one answer; empty when it is what the document declares. */
  problems(answer: {
    method: string;
    path: string;
    status: number;
    contentType: string | null;
    body: unknown;
  }): string[] {
    const method = answer.method.toUpperCase();
    const template = this.routeOf(method, answer.path);
    // Outside the document (an unknown path, or the catch-all that names the module actions)
    // only errors may be answered, in the error body.
    if (!template) {
      if (answer.status < 400)
        return [
          `${method} ${answer.path} is not a documented route, yet answered ${answer.status}`,
        ];
      return this.bodyProblems(
        `${method} ${answer.path} ${answer.status}`,
        ERROR_SCHEMA,
        answer.body,
      );
    }
    const responses = this.document.paths[template][method.toLowerCase()].responses ?? {};
    const response = responses[String(answer.status)];
    if (!response)
      return [
        `${method} ${template} answered ${answer.status}, which the document does not declare (declared: ${Object.keys(responses).join(', ')})`,
      ];
    const mediaType = (answer.contentType ?? '').split(';', 1)[0].trim().toLowerCase();
    const content = response.content ?? {};
    if (!Object.keys(content).length) return [];
    const declared = content[mediaType];
    if (!declared)
      return [
        `${method} ${template} ${answer.status} answered ${mediaType || 'no content type'}, declared: ${Object.keys(content).join(', ')}`,
      ];
    if (mediaType !== 'application/json') return [];
    return this.bodyProblems(
      `${method} ${template} ${answer.status}`,
      declared.schema,
      answer.body,
    );
  }

  private bodyProblems(key: string, schema: unknown, body: unknown): string[] {
    const id = JSON.stringify(schema ?? {});
    let validate = this.validators.get(id);
    if (!validate) {
      validate = this.ajv.compile(pointRefs(schema ?? {}) as object);
      this.validators.set(id, validate);
    }
    if (validate(body)) return [];
    return (validate.errors ?? []).map(
      (e) => `${key}: body${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`,
    );
  }

  /** Throws, naming every problem, unless the answer is what the document declares. */
  check(answer: Parameters<OpenApiContract['problems']>[0]) {
    const problems = this.problems(answer);
    if (problems.length)
      throw new Error(
        `the answer differs from openapi.json:\n  ${problems.join('\n  ')}\nbody: ${JSON.stringify(answer.body).slice(0, 2000)}`,
      );
  }
}
