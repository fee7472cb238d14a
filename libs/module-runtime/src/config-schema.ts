import type { ConfigPropertySchema, ConfigSchema } from '@plexus/module-sdk';
import { CONFIG_MESSAGE_KEYWORD } from './config-validation';

export interface ConfigKeyDescription {
  key: string;
  required: boolean;
  /** The JSON Schema type the value is coerced to; absent when any string goes. */
  type?: string;
  /** The rules besides the type, each as `keyword` or `keyword: value` (`maximum: 65535`). */
  rules: string[];
  default?: string | number | boolean;
  /** Never shown, logged or published in clear. */
  secret: boolean;
  description?: string;
}

/** Keywords that are not rules of a value (or are said by another field). */
const NOT_RULES = new Set([
  'type',
  'description',
  'default',
  'writeOnly',
  'title',
  'examples',
  CONFIG_MESSAGE_KEYWORD,
]);

/** The schema as data, for GET /module-types: one entry per key, in the schema's order. */
export function describeConfig(
  schema: ConfigSchema,
  secretKeys: readonly string[] = [],
): ConfigKeyDescription[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([key, property]) => {
    const description: ConfigKeyDescription = {
      key,
      required: required.has(key),
      rules: rulesOf(property),
      secret: property.writeOnly === true || secretKeys.includes(key),
    };
    if (property.type) description.type = property.type;
    if (property.default !== undefined) description.default = property.default;
    if (property.description) description.description = property.description;
    return description;
  });
}

function rulesOf(property: ConfigPropertySchema): string[] {
  const rules = Object.entries(property)
    .filter(([keyword]) => !NOT_RULES.has(keyword))
    .map(([keyword, value]) =>
      typeof value === 'object'
        ? `${keyword}: ${JSON.stringify(value)}`
        : `${keyword}: ${String(value)}`,
    );
  const message = property[CONFIG_MESSAGE_KEYWORD];
  return typeof message === 'string' ? [...rules, message] : rules;
}
