/** The parts of GET /nodes/:id/rollout a verdict reads. */
export interface RolloutView {
  nodeId: string;
  converged: boolean;
  lastChange: { version: number };
  processes: {
    processId: string;
    appliedVersion: number | null;
    ok: boolean | null;
    modules?: Record<string, { state: string; error?: string; version: number }>;
  }[];
}

export type RolloutVerdict =
  | { state: 'converged' }
  | { state: 'failed'; failures: string[] }
  | { state: 'waiting'; why: string };

/**
 * Converged: at least one live process, and every one applied the latest version without a
 * failed module. Failed: a process applied the latest version and a module failed (waiting on
 * will not help). No live process at all is waiting: nothing runs the version yet.
 */
export function rolloutVerdict(r: RolloutView): RolloutVerdict {
  const latest = r.lastChange.version;
  const failures = r.processes
    .filter((p) => p.appliedVersion === latest && p.ok === false)
    .flatMap((p) => {
      const failed = Object.entries(p.modules ?? {}).filter(([, m]) => m.state === 'failed');
      return failed.length
        ? failed.map(
            ([id, m]) => `${p.processId}: module ${id} failed${m.error ? `: ${m.error}` : ''}`,
          )
        : [`${p.processId}: failed to apply version ${latest}`];
    });
  if (failures.length) return { state: 'failed', failures };
  if (!r.processes.length) return { state: 'waiting', why: 'no live process runs the node' };
  if (r.converged) return { state: 'converged' };
  const behind = r.processes.filter((p) => p.appliedVersion !== latest).length;
  return { state: 'waiting', why: `${behind} of ${r.processes.length} processes behind` };
}

/** One line of progress: `version V: A/N processes applied`. */
export function rolloutProgress(r: RolloutView): string {
  const latest = r.lastChange.version;
  const applied = r.processes.filter((p) => p.appliedVersion === latest && p.ok === true).length;
  return `${r.nodeId} version ${latest}: ${applied}/${r.processes.length} processes applied`;
}
