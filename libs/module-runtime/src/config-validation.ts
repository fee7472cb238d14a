import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { errorText } from '@plexus/common';
import type { ConfigSchema } from '@plexus/module-sdk';

/**
 * A property's own wording of its rule, used instead of ajv's messages for any value it refuses
 * (`"x-message": "must be an integer from 0 to 65535"` gives `config.port must be an integer
 * from 0 to 65535`): one message per key, in the words the type's author chose.
 */
export const CONFIG_MESSAGE_KEYWORD = 'x-message';

/**
 * One Ajv for every schema. Config values are strings (as in a properties file): `coerceTypes`
 * lets a schema say `integer` and accept "8000"; `allErrors` names every bad key at once.
 */
const ajv = new Ajv({ allErrors: true, coerceTypes: true, strict: false });
addFormats(ajv);

/** Problems with a config, each naming the key and the rule; empty when it is valid. */
export type ConfigValidator = (config: Readonly<Record<string, string>>) => string[];

/**
 * Compiles a module type's JSON Schema into a validator, so the control plane can check configs
 * of types whose code it never loads. Throws when the schema itself is not valid JSON Schema.
 * Compile once per type: compiling is thousands of times dearer than validating.
 */
export function compileConfigValidator(schema: ConfigSchema): ConfigValidator {
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    throw new Error(`the config schema is not valid JSON Schema: ${errorText(err)}`);
  }
  return (config) => {
    const copy = { ...config }; // coercion rewrites values in place
    if (validate(copy)) return [];
    // Several rules of one key (anyOf branches, type and range) may fail at once: say each once.
    return [...new Set((validate.errors ?? []).map((e) => describeConfigError(e, schema)))];
  };
}

function describeConfigError(error: ErrorObject, schema: ConfigSchema): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') return `config.${String(params.missingProperty)} is required`;
  if (error.keyword === 'additionalProperties')
    return `config.${String(params.additionalProperty)} is not a key of this module type`;
  const key = error.instancePath.slice(1).replace(/~1/g, '/').replace(/~0/g, '~');
  // Read from the property itself: an error inside its anyOf carries only the branch's schema.
  const own = schema.properties[key]?.[CONFIG_MESSAGE_KEYWORD];
  if (typeof own === 'string') return `config.${key} ${own}`;
  if (error.keyword === 'enum')
    return `config.${key} must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
  return `config.${key} ${error.message ?? `breaks the rule ${error.keyword}`}`;
}
