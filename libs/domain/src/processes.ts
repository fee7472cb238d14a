/**
 * The processes that run a node: who they are, where they stand in their life, and what they
 * report (their modules' status, their load). The bus carries these in messages, the event store
 * records them, the control plane and the worker act on them.
 */

/** One running process of a node, as it announces itself. */
export interface ProcessIdentity {
  processId: string;
  nodeId: string;
  host: string;
  pid: number;
  portOffset: number;
}

/** `up` until it leaves (`left`) or stops heartbeating (`lost`); a lost process may come back. */
export const PROCESS_STATUSES = ['up', 'left', 'lost'] as const;
export type ProcessStatus = (typeof PROCESS_STATUSES)[number];

export const isProcessStatus = (v: unknown): v is ProcessStatus =>
  (PROCESS_STATUSES as readonly unknown[]).includes(v);

/** Where one module of a process stands, as the process reports it in heartbeats. */
export type ModuleState = 'starting' | 'running' | 'stopped' | 'failed' | 'unsupported' | 'standby';

export interface ModuleStatus {
  state: ModuleState;
  /** Version of the node document this module's current config came from. */
  version: number;
  error?: string;
  /** Runtime status the module itself reports (ModuleInstance.status()): connections, counters, last error. */
  details?: Record<string, unknown>;
}

/**
 * A process's load over the last heartbeat interval: what the autoscaler scales on (one field per
 * scaling metric).
 */
export interface ProcessLoad {
  /** 0..1: the share of the interval the event loop was busy (perf_hooks eventLoopUtilization). */
  eventLoopUtilization: number;
  /** Requests its modules served per second (from their `requests` counters). */
  requestsPerSec: number;
}
