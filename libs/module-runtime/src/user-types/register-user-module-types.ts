import { errorText } from '@plexus/common';
import { ModuleTypeRegistry } from '../registry';
import { ModuleTypeLoadError, ModuleTypePackage } from './module-type-package';
import { checkedModuleType } from './checked-module-type';

/**
 * Registers the module types of users' packages next to the built-ins. Every schema is compiled
 * now, so a bad one fails the start naming its type; a name a built-in or another package has
 * already taken is refused. Throws ModuleTypeLoadError; registers nothing unless all are good.
 */
export function registerUserModuleTypes(
  registry: ModuleTypeRegistry,
  packages: readonly ModuleTypePackage[],
): ModuleTypeRegistry {
  const from = new Map<string, string>();
  const definitions = packages.flatMap(({ source, types }) =>
    types.map((type) => {
      if (registry.get(type.name))
        throw new ModuleTypeLoadError(
          `module type "${type.name}" of package "${source}" has the name of a built-in type`,
        );
      const other = from.get(type.name);
      if (other !== undefined)
        throw new ModuleTypeLoadError(
          other === source
            ? `module type "${type.name}" is given twice by package "${source}"`
            : `module type "${type.name}" is given by both "${other}" and "${source}"`,
        );
      from.set(type.name, source);
      try {
        return checkedModuleType(type);
      } catch (err) {
        throw new ModuleTypeLoadError(
          `module type "${type.name}" of package "${source}": ${errorText(err)}`,
        );
      }
    }),
  );
  definitions.forEach((d) => registry.register(d));
  return registry;
}
