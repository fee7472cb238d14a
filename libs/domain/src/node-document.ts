export type Activation = 'all' | 'single';
export type StringMap = Record<string, string>;

/** One module of a node, as configured. */
export interface ModuleSpec {
  moduleId: string;
  type: string;
  config: StringMap;
  /** role -> moduleId of another module of the same node */
  requires: StringMap;
  enabled: boolean;
  activation: Activation;
  /** Bumped by every restart, so a level-triggered worker can tell that it must restart. */
  generation: number;
  /**
   * Its secret keys, when they are more than its type's: a key secret under an earlier type stays
   * secret while the module keeps it (see moduleSecretKeys). Absent: the type's keys.
   */
  secretKeys?: string[];
  /**
   * The Smile CDR type name a properties file gave this module when Plexus runs it as `type`
   * (`PERSISTENCE_R4` runs as `persistence`), or `''` when the file gave none (Smile's implicit
   * cluster manager). Export writes it back so the file round-trips. Absent for modules written
   * in Plexus's own type names. See smile-types.ts.
   */
  smileType?: string;
}

/** The full configuration of a node at one version: what workers converge on. */
export interface NodeDocument {
  nodeId: string;
  version: number;
  archived: boolean;
  properties: StringMap;
  modules: ModuleSpec[];
}

export function findModule(doc: NodeDocument, moduleId: string): ModuleSpec | undefined {
  return doc.modules.find((m) => m.moduleId === moduleId);
}

export const emptyNode = (nodeId: string): NodeDocument => ({
  nodeId,
  version: 0,
  archived: false,
  properties: {},
  modules: [],
});
