import type { JobTypeRegistry } from '@plexus/batch-jobs';
import type { ModuleTypeRegistration } from '@plexus/bus';
import { ModuleTypeCatalog, ModuleTypeInfo, StringMap } from '@plexus/domain';
import type { ConfigSchema } from '@plexus/module-sdk';
import { secretKeysOf } from '@plexus/module-sdk';
import { compileConfigValidator, ConfigValidator } from '../config-validation';
import { ModuleTypeRegistry, RegisteredModuleType } from '../registry';

/** A live process that registered a module type. */
export interface ModuleTypeProvider {
  processId: string;
  nodeId: string;
  version: string;
  schemaHash: string;
}

/** Two or more providers of one version of a type whose schemas differ. */
export interface ModuleTypeConflict {
  version: string;
  schemaHashes: string[];
}

/** A module type as GET /module-types shows it. */
export interface ClusterModuleType {
  type: string;
  builtIn: boolean;
  /** The built-in's version, or the highest version a provider registered. */
  version: string;
  description: string;
  provides: readonly string[];
  requires: readonly string[];
  secretKeys: readonly string[];
  singleProcess: boolean;
  /** The config schema as JSON Schema; null for a built-in described only by `config`. */
  configSchema: Record<string, unknown> | null;
  providers: ModuleTypeProvider[];
  conflicts: ModuleTypeConflict[];
}

/**
 * The module types the control plane knows: its built-ins, and the types live processes have
 * registered in the catalogue bucket (`registrations`, read on every call so it is always the
 * bucket's latest). A registered type's config is checked against the schema of every distinct
 * schema its providers publish (any of them may apply it); each schema is compiled once, by hash.
 * A built-in's name always means the built-in.
 */
export class ClusterModuleTypes implements ModuleTypeCatalog {
  private readonly validators = new Map<string, ConfigValidator>();

  constructor(
    private readonly builtIns: ModuleTypeRegistry,
    private readonly registrations: () => readonly ModuleTypeRegistration[],
  ) {}

  get(type: string): ModuleTypeInfo | undefined {
    return this.builtIns.get(type) ?? this.registered(type, this.byType().get(type));
  }

  list(): ModuleTypeInfo[] {
    const registered = [...this.byType()]
      .filter(([type]) => !this.builtIns.get(type))
      .map(([type, regs]) => this.registered(type, regs)!);
    return [...this.builtIns.list(), ...registered];
  }

  /** A built-in type as this process registered it. */
  builtIn(type: string): RegisteredModuleType | undefined {
    return this.builtIns.get(type);
  }

  /** Batch-job types come only with built-in types. */
  jobTypes(options: { maxChunksPerJob?: number } = {}): JobTypeRegistry {
    return this.builtIns.jobTypes(options);
  }

  /** Every type, built-in and registered, with its providers and schema conflicts. */
  describe(): ClusterModuleType[] {
    const byType = this.byType();
    const builtIns = this.builtIns.list().map((d) => ({
      type: d.type,
      builtIn: true,
      description: d.description,
      provides: d.provides,
      requires: d.requires ?? [],
      secretKeys: d.secretKeys,
      singleProcess: d.singleProcess === true,
      version: d.version,
      configSchema: d.configSchema as Record<string, unknown>,
      ...providersOf(byType.get(d.type) ?? []),
    }));
    const registered = [...byType]
      .filter(([type]) => !this.builtIns.get(type))
      .map(([type, regs]) => {
        const info = this.registered(type, regs)!;
        return {
          type,
          builtIn: false,
          version: newest(regs).version,
          description: info.description,
          provides: info.provides,
          requires: [...new Set(regs.flatMap((r) => r.requires))],
          secretKeys: info.secretKeys,
          singleProcess: info.singleProcess === true,
          configSchema: newest(regs).configSchema,
          ...providersOf(regs),
        };
      })
      .sort((a, b) => a.type.localeCompare(b.type));
    return [...builtIns, ...registered];
  }

  private byType(): Map<string, ModuleTypeRegistration[]> {
    const map = new Map<string, ModuleTypeRegistration[]>();
    for (const r of this.registrations()) map.set(r.type, [...(map.get(r.type) ?? []), r]);
    return map;
  }

  private registered(
    type: string,
    regs: readonly ModuleTypeRegistration[] | undefined,
  ): ModuleTypeInfo | undefined {
    if (!regs?.length) return undefined;
    const schemas = new Map(regs.map((r) => [r.schemaHash, r.configSchema]));
    const validators = [...schemas].flatMap(([hash, schema]) => this.validator(hash, schema));
    const union = (f: (r: ModuleTypeRegistration) => readonly string[]) => [
      ...new Set(regs.flatMap(f)),
    ];
    return {
      type,
      description: newest(regs).description,
      secretKeys: union((r) =>
        secretKeysOf(r.configSchema as unknown as ConfigSchema, r.secretKeys),
      ),
      provides: union((r) => r.provides),
      singleProcess: regs.some((r) => r.singleProcess),
      validateConfig: (config: StringMap) => [
        ...new Set(validators.flatMap((validate) => validate(config))),
      ],
    };
  }

  /** The schema's validator, compiled on first use; none for a schema ajv cannot compile. */
  private validator(hash: string, schema: Record<string, unknown>): ConfigValidator[] {
    let validate = this.validators.get(hash);
    if (!validate) {
      try {
        validate = compileConfigValidator(schema as unknown as ConfigSchema);
      } catch {
        // The worker compiled it at its start, with the same rules: only a forged entry fails.
        validate = () => [];
      }
      this.validators.set(hash, validate);
    }
    return [validate];
  }
}

/** The registration of the highest version (then the first): what describes the type. */
function newest(regs: readonly ModuleTypeRegistration[]): ModuleTypeRegistration {
  return [...regs].sort((a, b) => compareVersions(b.version, a.version))[0];
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const pb = b.split(/[.+-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x).localeCompare(String(y));
  }
  return 0;
}

/** Providers, and the versions whose providers publish more than one schema. */
export function providersOf(regs: readonly ModuleTypeRegistration[]): {
  providers: ModuleTypeProvider[];
  conflicts: ModuleTypeConflict[];
} {
  const providers = regs
    .map(({ processId, nodeId, version, schemaHash }) => ({
      processId,
      nodeId,
      version,
      schemaHash,
    }))
    .sort((a, b) => a.nodeId.localeCompare(b.nodeId) || a.processId.localeCompare(b.processId));
  const hashesByVersion = new Map<string, Set<string>>();
  for (const r of regs)
    hashesByVersion.set(r.version, (hashesByVersion.get(r.version) ?? new Set()).add(r.schemaHash));
  const conflicts = [...hashesByVersion]
    .filter(([, hashes]) => hashes.size > 1)
    .map(([version, hashes]) => ({ version, schemaHashes: [...hashes].sort() }));
  return { providers, conflicts };
}
