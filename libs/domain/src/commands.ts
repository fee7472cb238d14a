import { Activation, ModuleSpec, NodeDocument, StringMap } from './node-document';

export interface ModuleInput {
  type: string;
  config: StringMap;
  requires: StringMap;
  enabled: boolean;
  activation: Activation;
}

/** What an admin (or a first-starting worker) asks of a node. */
export type NodeCommand =
  | { kind: 'PutNode'; properties: StringMap }
  | { kind: 'ArchiveNode' }
  | { kind: 'PutModule'; moduleId: string; module: ModuleInput }
  | { kind: 'PatchModuleConfig'; moduleId: string; changes: Record<string, string | null> }
  | { kind: 'StartModule'; moduleId: string }
  | { kind: 'StopModule'; moduleId: string }
  | { kind: 'RestartModule'; moduleId: string }
  | { kind: 'RemoveModule'; moduleId: string }
  /** Revert: forward events that make the node's configuration equal `target`'s again. */
  | { kind: 'RestoreNode'; target: NodeDocument }
  /** Create a whole node at once (first start from a properties file); unknown types are kept. */
  | {
      kind: 'SeedNode';
      properties: StringMap;
      modules: Omit<ModuleSpec, 'generation'>[];
    }
  /**
   * Make the node equal a properties file's section (POST /module-config/properties): created
   * when missing, otherwise changed by forward events; unknown types are kept, `******` for a
   * secret keeps the stored value.
   */
  | {
      kind: 'ImportNode';
      properties: StringMap;
      modules: Omit<ModuleSpec, 'generation'>[];
    };
