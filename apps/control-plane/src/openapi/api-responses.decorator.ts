import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiResponse } from '@nestjs/swagger';
import { BODY_LIMIT_TEXT } from '../http/body-parsers';
import { ReferenceObject, ref, SchemaObject } from './schema-ref';

/** DESIGN.md's error answer: every error of the admin API has this body. */
export const API_ERROR = 'ApiError';

/** The error statuses the admin API answers, with when and an example message. */
const ERRORS = {
  400: [
    'bad input: the message names the field and the rule',
    'nodeId must be 1-30 characters of US-ASCII letters, digits, "_", "-" or "."',
  ],
  401: ['no token, or not a valid one', 'Authorization: Bearer <token> header is required'],
  403: [
    "the token's role may not call this route",
    'role auditor may not PUT /nodes/:nodeId (allowed: admin)',
  ],
  404: ['no such thing (or it is archived)', 'node "fhir_node" does not exist'],
  409: [
    'refused by the current state: it exists, or the change conflicts with it',
    'module "local_security" is required by module "fhir_endpoint" (SECURITY_IN_UP); change or remove that first',
  ],
  412: [
    'If-Match names a version the node is no longer at; nothing was stored',
    'If-Match names version 3 but the node is at version 4',
  ],
  413: [
    `the body is larger than ${BODY_LIMIT_TEXT}, or the result would be too large to store`,
    `request body is larger than ${BODY_LIMIT_TEXT}`,
  ],
  415: ['the body is not in a media type this route reads', 'send the body as application/json'],
  429: [
    'this client address had too many tokens refused (PLEXUS_AUTH_FAILURE_LIMIT within PLEXUS_AUTH_FAILURE_WINDOW_SECONDS): no token is checked from it until Retry-After has passed',
    '20 refused tokens within 60 s from 203.0.113.9: no token is checked from there for 42 s (retry after Retry-After)',
  ],
  503: [
    'a dependency (Postgres, NATS, a process asked) is down or too slow; retry after Retry-After',
    'postgres is unavailable: connection terminated unexpectedly',
  ],
} as const;

export type ErrorStatus = keyof typeof ERRORS;

const RETRY_AFTER = {
  'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer' } },
};

function errorResponse(
  status: ErrorStatus,
  schema: SchemaObject | ReferenceObject = ref(API_ERROR),
) {
  const [description, message] = ERRORS[status];
  return ApiResponse({
    status,
    description,
    ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
    content: {
      'application/json': {
        schema,
        example: { statusCode: status, error: STATUS_TEXT[status], message },
      },
    },
  });
}

const STATUS_TEXT: Record<ErrorStatus, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/** The error statuses a route can answer, each with the `{statusCode, error, message}` body. */
export const ApiErrors = (...statuses: ErrorStatus[]) =>
  applyDecorators(...statuses.map((status) => errorResponse(status)));

/**
 * On a controller whose routes need a token: the bearer scheme, 401, 429 (the guard's limit on
 * refused tokens per client address) and 503 (the guard looks named tokens up in Postgres).
 */
export const ApiAdminAuth = () => applyDecorators(ApiBearerAuth(), ApiErrors(401, 429, 503));

/** A write's body: bad JSON or fields (400), too large (413), not JSON (415). */
export const ApiBodyErrors = () => ApiErrors(400, 413, 415);

/**
 * A 503 whose body is the route's own answer (it names what is unhealthy), or the error body when
 * the control plane could not ask at all.
 */
export const ApiUnhealthyResponse = (schemaName: string, description: string) =>
  ApiResponse({
    status: 503,
    description,
    headers: RETRY_AFTER,
    schema: { oneOf: [ref(schemaName), ref(API_ERROR)] },
  });

/** The success answer of a route: its status, description and a schema of the components. */
export const ApiAnswer = (
  status: number,
  schema: SchemaObject | ReferenceObject | string,
  description: string,
  headers?: Record<string, { description: string; schema: SchemaObject }>,
) =>
  ApiResponse({
    status,
    description,
    schema: typeof schema === 'string' ? ref(schema) : schema,
    ...(headers ? { headers } : {}),
  });

/** The ETag answer header: the node's version. */
export const ETAG_HEADER = {
  ETag: {
    description: 'the node version this answer shows, as "N"',
    schema: { type: 'string', example: '"3"' },
  },
};

/**
 * The headers every write reads (http/command-context.decorator.ts): If-Match, with the 412 it
 * answers when stale (declared here so that no route reads the one without declaring the other),
 * the correlation ID and the reason recorded in the events' metadata.
 */
export const ApiWriteHeaders = () =>
  applyDecorators(
    ApiHeader({
      name: 'If-Match',
      required: false,
      description:
        'the version the write expects the node to be at ("5", W/"5" or 5; the ETag of GET /nodes/{nodeId}); 412 when it is not, and nothing is stored',
      schema: { type: 'string', example: '"3"' },
    }),
    ApiErrors(412),
    ApiHeader({
      name: 'X-Correlation-Id',
      required: false,
      description:
        'recorded in the metadata of every event the call causes (made up when absent); at most 200 characters',
      schema: { type: 'string', maxLength: 200 },
    }),
    ApiHeader({
      name: 'X-Plexus-Reason',
      required: false,
      description:
        'why: recorded in the metadata of every event the call causes; at most 1000 characters',
      schema: { type: 'string', maxLength: 1000 },
    }),
  );
