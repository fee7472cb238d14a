import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync } from 'class-validator';
import { StringMap } from '@plexus/domain';

/**
 * Validates a flat config map against a module type's class-validator schema. Unknown keys are
 * refused so that a typo (`prot=8000`) is caught at write time, not when the module starts.
 */
export function validateConfigAgainst(schema: new () => object, config: StringMap): string[] {
  const instance = plainToInstance(schema, config);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true });
  return errors.flatMap((e) =>
    Object.values(e.constraints ?? {}).map((message) =>
      message.startsWith('property ')
        ? `config.${e.property} is not a key of this module type`
        : `config.${message}`,
    ),
  );
}

export interface ConfigKeyDescription {
  key: string;
  required: boolean;
  rules: string[];
}

/** The schema as data, for GET /module-types. */
export function describeConfig(schema: new () => object): ConfigKeyDescription[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(schema, '', true, false);
  const byKey = new Map<string, ConfigKeyDescription>();
  for (const m of metadata) {
    const d = byKey.get(m.propertyName) ?? { key: m.propertyName, required: true, rules: [] };
    if (m.type === 'conditionalValidation') d.required = false;
    else if (m.name) d.rules.push(m.name);
    else if (m.constraintCls) d.rules.push((m.constraintCls as { name: string }).name);
    byKey.set(m.propertyName, d);
  }
  return [...byKey.values()];
}
