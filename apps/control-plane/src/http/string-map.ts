import { Transform } from 'class-transformer';
import { registerDecorator, ValidationOptions } from 'class-validator';
import { MAX_VALUE_LENGTH } from '@plexus/domain';

type Scalar = string | number | boolean;
const isScalar = (v: unknown): v is Scalar => ['string', 'number', 'boolean'].includes(typeof v);

/** Why `value` is not a flat map of scalars (null allowed where `allowNull`), or null. */
export function stringMapProblem(field: string, value: unknown, allowNull = false): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `${field} must be an object of key: string pairs`;
  for (const [k, v] of Object.entries(value)) {
    if (v === null && allowNull) continue;
    if (!isScalar(v)) return `${field}.${k} must be a string${allowNull ? ' or null' : ''}`;
    if (typeof v === 'string' && v.length > MAX_VALUE_LENGTH)
      return `${field}.${k} must be at most ${MAX_VALUE_LENGTH} characters`;
  }
  return null;
}

/** Config values are strings, as in a properties file; numbers and booleans are accepted and kept as text. */
export function toStringMap(value: Record<string, unknown>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(value)) out[k] = v === null ? null : String(v);
  return out;
}

/**
 * How a DTO property checked by IsStringMap is declared in the OpenAPI document: an object of
 * strings (numbers and booleans are accepted too, and kept as text, but strings are the contract).
 */
export const STRING_MAP_PROPERTY = {
  type: 'object',
  additionalProperties: { type: 'string' },
} as const;

export function IsStringMap(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) => {
    registerDecorator({
      name: 'isStringMap',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (value, args) => stringMapProblem(args!.property, value) === null,
        defaultMessage: (args) => stringMapProblem(args!.property, args!.value) ?? '',
      },
    });
    Transform(({ value }) => (stringMapProblem('x', value) === null ? toStringMap(value) : value))(
      target,
      propertyName,
    );
  };
}
