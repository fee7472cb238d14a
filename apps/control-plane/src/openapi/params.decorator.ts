import { applyDecorators } from '@nestjs/common';
import { ApiParam, ApiQuery } from '@nestjs/swagger';
import { ID_MAX_LENGTH, ID_PATTERN, ID_RULE } from '@plexus/domain';

const ID_SCHEMA = {
  type: 'string' as const,
  pattern: ID_PATTERN.source,
  maxLength: ID_MAX_LENGTH,
};

const EXAMPLES: Record<string, string> = {
  nodeId: 'fhir_node',
  moduleId: 'fhir_endpoint',
  scheduleId: 'nightly-analyze',
};

/** Path parameters that are node, module or schedule IDs: DESIGN.md's ID rule (400 otherwise). */
export const ApiIdParams = (...names: string[]) =>
  applyDecorators(
    ...names.map((name) =>
      ApiParam({
        name,
        description: `${ID_RULE}; anything else is a 400`,
        schema: { ...ID_SCHEMA, example: EXAMPLES[name] },
      }),
    ),
  );

/** A path parameter that is a UUID (400 otherwise). */
export const ApiUuidParam = (name: string, what: string) =>
  ApiParam({
    name,
    description: `${what} (a UUID); anything else is a 400`,
    schema: { type: 'string', format: 'uuid' },
  });

/** An optional query parameter filtering by node or module ID. */
export const ApiIdQuery = (name: 'nodeId' | 'moduleId', description: string) =>
  ApiQuery({
    name,
    required: false,
    description: `${description}; ${ID_RULE}`,
    schema: { ...ID_SCHEMA, example: EXAMPLES[name] },
  });
