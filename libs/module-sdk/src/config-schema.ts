/**
 * A module type's config as JSON Schema: an object whose properties are the config keys. Config
 * values are strings (as in a properties file); the validator coerces them to the declared type,
 * so `{"type": "integer", "minimum": 1}` accepts "8000" and refuses "80x". `default` fills a key
 * the user left out, and `writeOnly: true` marks a secret.
 */
export interface ConfigSchema {
  type: 'object';
  properties: Record<string, ConfigPropertySchema>;
  required?: readonly string[];
  /** False refuses keys the schema does not name (default: allowed). */
  additionalProperties?: boolean;
  description?: string;
  [keyword: string]: unknown;
}

export interface ConfigPropertySchema {
  type?: 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  default?: string | number | boolean;
  enum?: readonly (string | number | boolean)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  /** `uri` and friends, as ajv-formats knows them. */
  format?: string;
  /** A secret: never shown, logged or published in clear. */
  writeOnly?: boolean;
  [keyword: string]: unknown;
}

/** The keys a schema marks secret (`writeOnly: true`) together with an explicit list. */
export function secretKeysOf(schema: ConfigSchema, listed: readonly string[] = []): string[] {
  const marked = Object.entries(schema.properties)
    .filter(([, property]) => property.writeOnly === true)
    .map(([key]) => key);
  return [...new Set([...listed, ...marked])];
}

/** The schema's defaults for keys `config` leaves out, as strings. */
export function withDefaults(
  schema: ConfigSchema,
  config: Readonly<Record<string, string>>,
): Record<string, string> {
  const filled: Record<string, string> = { ...config };
  for (const [key, property] of Object.entries(schema.properties))
    if (filled[key] === undefined && property.default !== undefined)
      filled[key] = String(property.default);
  return filled;
}
