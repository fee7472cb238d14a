import {
  ModuleHealthReport,
  ModuleStatus,
  NodeDocument,
  ProcessIdentity,
  ProcessLoad,
  StringMap,
} from '@plexus/domain';

/** Worker -> control plane: create my node from this properties file (first request wins). */
export interface SeedNodeRequest {
  nodeId: string;
  processId: string;
  /** Flat keys of the parsed properties file. */
  properties: StringMap;
}
export type SeedNodeReply =
  | {
      ok: true;
      created: boolean;
      document: NodeDocument;
      /** Modules of types no live process has registered: stored unchecked. */
      warnings?: string[];
    }
  | { ok: false; statusCode: number; message: string };

/** Published on the membership stream. */
export interface MembershipAnnouncement extends ProcessIdentity {
  what: 'joined' | 'left';
  at: string;
}

export interface Heartbeat extends ProcessIdentity {
  appliedVersion: number;
  modules: Record<string, ModuleStatus>;
  /** The `activation: single` modules this process holds the lease of and runs. */
  activeModules?: string[];
  at: string;
  /** Absent from processes of versions before autoscaling. */
  load?: ProcessLoad;
  /**
   * The health of each module that runs (or failed) here, as last checked (every HEALTH_CHECK_MS;
   * a change is sent at once). Absent from processes of versions before runtime status.
   */
  health?: Record<string, ModuleHealthReport>;
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
