import type {
  ReferenceObject,
  SchemaObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

export type { ReferenceObject, SchemaObject };

/** Named schemas of one feature: they become `components.schemas` of the document. */
export type SchemaComponents = Record<string, SchemaObject>;

/** A reference to a schema of `components.schemas` (openapi-document.ts collects them). */
export const ref = (name: string): ReferenceObject => ({ $ref: `#/components/schemas/${name}` });

export const arrayOf = (name: string): SchemaObject => ({ type: 'array', items: ref(name) });

/** A JSON object keyed by a name (module ID, role), every value of one schema. */
export const mapOf = (values: SchemaObject | ReferenceObject): SchemaObject => ({
  type: 'object',
  additionalProperties: values,
});

export const nullable = (schema: SchemaObject): SchemaObject => ({ ...schema, nullable: true });

export const dateTime: SchemaObject = {
  type: 'string',
  format: 'date-time',
  example: '2026-01-31T12:00:00.000Z',
};

export const uuid: SchemaObject = {
  type: 'string',
  format: 'uuid',
  example: '0b6f7a8e-3c1d-4c1e-9a55-6d3f2b1e0c9a',
};
