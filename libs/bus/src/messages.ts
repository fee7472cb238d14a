import { NodeDocument, StringMap } from '@plexus/domain';

/** Worker -> control plane: create my node from this properties file (first request wins). */
export interface SeedNodeRequest {
  nodeId: string;
  processId: string;
  /** Flat keys of the parsed properties file. */
  properties: StringMap;
}
export type SeedNodeReply =
  | { ok: true; created: boolean; document: NodeDocument }
  | { ok: false; statusCode: number; message: string };

export type ModuleState = 'starting' | 'running' | 'stopped' | 'failed' | 'unsupported' | 'standby';

export interface ModuleStatus {
  state: ModuleState;
  /** Version of the node document this module's current config came from. */
  version: number;
  error?: string;
  /** Runtime status the module itself reports (ModuleInstance.status()): connections, counters, last error. */
  details?: Record<string, unknown>;
}

export interface ProcessIdentity {
  processId: string;
  nodeId: string;
  host: string;
  pid: number;
  portOffset: number;
}

/** Published on the membership stream. */
export interface MembershipAnnouncement extends ProcessIdentity {
  what: 'joined' | 'left';
  at: string;
}

/** A process's load over the last heartbeat interval: what the autoscaler scales on. */
export interface ProcessLoad {
  /** 0..1: the share of the interval the event loop was busy (perf_hooks eventLoopUtilization). */
  eventLoopUtilization: number;
  /** Requests its modules served per second (from their `requests` counters). */
  requestsPerSec: number;
}

export interface Heartbeat extends ProcessIdentity {
  appliedVersion: number;
  modules: Record<string, ModuleStatus>;
  /** The `activation: single` modules this process holds the lease of and runs. */
  activeModules?: string[];
  at: string;
  /** Absent from processes of versions before autoscaling. */
  load?: ProcessLoad;
}

/** Sent when a process has applied a node document; `hrtimeNs` is process.hrtime.bigint(). */
export interface AppliedReport {
  processId: string;
  nodeId: string;
  version: number;
  ok: boolean;
  hrtimeNs: string;
  modules: Record<string, ModuleStatus>;
}
