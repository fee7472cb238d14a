import { Activation, StringMap } from './node-document';

/** One changed key: `old` null means added, `new` null means removed. */
export interface KeyChange {
  key: string;
  old: string | null;
  new: string | null;
  /** Set when the key holds a secret: shown and published redacted. */
  secret?: boolean;
}

export type NodeCreated = { type: 'NodeCreated'; data: { properties: StringMap } };
export type NodePropertiesChanged = {
  type: 'NodePropertiesChanged';
  data: { changes: KeyChange[] };
};
export type NodeArchived = { type: 'NodeArchived'; data: Record<string, never> };
export type ModuleAdded = {
  type: 'ModuleAdded';
  data: {
    moduleId: string;
    type: string;
    config: StringMap;
    requires: StringMap;
    enabled: boolean;
    activation: Activation;
    /** ModuleSpec.secretKeys, when the module has more than its type's. */
    secretKeys?: string[];
    /** ModuleSpec.smileType, when the module was imported under a Smile CDR type name. */
    smileType?: string;
  };
};
export type ModuleConfigChanged = {
  type: 'ModuleConfigChanged';
  data: {
    moduleId: string;
    changes: KeyChange[];
    /** Present only when a PUT replaced these parts of the module too. */
    type?: string;
    requires?: StringMap;
    activation?: Activation;
    /** The module's new ModuleSpec.secretKeys, when they changed (empty: its type's again). */
    secretKeys?: string[];
    /** The module's new ModuleSpec.smileType, when it changed (null: no Smile name any more). */
    smileType?: string | null;
  };
};
export type ModuleStarted = {
  type: 'ModuleStarted';
  data: { moduleId: string; restart?: boolean };
};
export type ModuleStopped = {
  type: 'ModuleStopped';
  data: { moduleId: string; restart?: boolean };
};
export type ModuleRemoved = { type: 'ModuleRemoved'; data: { moduleId: string } };

/** Events of a node's configuration stream: these, and only these, change a NodeDocument. */
export type NodeEvent =
  | NodeCreated
  | NodePropertiesChanged
  | NodeArchived
  | ModuleAdded
  | ModuleConfigChanged
  | ModuleStarted
  | ModuleStopped
  | ModuleRemoved;

export type NodeEventType = NodeEvent['type'];

export const NODE_EVENT_TYPES: readonly NodeEventType[] = [
  'NodeCreated',
  'NodePropertiesChanged',
  'NodeArchived',
  'ModuleAdded',
  'ModuleConfigChanged',
  'ModuleStarted',
  'ModuleStopped',
  'ModuleRemoved',
];

/** Process lifecycle events live in a stream per process, so they never move a node's version. */
export const PROCESS_EVENT_TYPES = [
  'ProcessJoined',
  'ProcessLeft',
  'ProcessLost',
  'ProcessConfigApplied',
  'ProcessConfigFailed',
  /** A process joined a node that one of its modules limits to one process (see process-limits). */
  'ProcessLimitExceeded',
] as const;
export type ProcessEventType = (typeof PROCESS_EVENT_TYPES)[number];

/** Scaling events live in a stream per node of their own (scalingStreamId), apart from its config. */
export const SCALING_EVENT_TYPES = ['ScalingPolicySet', 'ScaleRecommended'] as const;
export type ScalingEventType = (typeof SCALING_EVENT_TYPES)[number];

export const ALL_EVENT_TYPES: readonly string[] = [
  ...NODE_EVENT_TYPES,
  ...PROCESS_EVENT_TYPES,
  ...SCALING_EVENT_TYPES,
];
