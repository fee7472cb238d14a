import { moduleProblems, notHealthyMessage, ProcessRuntimeStatus } from '@plexus/domain';

/** What one process told us, or why it told us nothing. */
export type ProcessAnswer =
  { processId: string; status: ProcessRuntimeStatus } | { processId: string; unanswered: string };

/** A failing (process, module) pair, or a process that did not answer (no moduleId). */
export interface Failing {
  processId: string;
  moduleId?: string;
  reason: string;
}

/** One process's runtime status with its verdict: the body of GET /processes/:id/runtime-status. */
export function processVerdict(status: ProcessRuntimeStatus) {
  const problems = moduleProblems(status.modules);
  return {
    healthy: problems.length === 0,
    body: {
      ...status,
      healthy: problems.length === 0,
      ...(problems.length
        ? {
            message: notHealthyMessage(
              problems.map((p) => ({ name: p.moduleId, reason: p.reason })),
            ),
          }
        : {}),
    },
  };
}

/**
 * A node's runtime status from the answers of its live processes: healthy when every process
 * answered and none has a failing module (a process that did not answer counts as failing: it
 * may be lost). The message names each failing process/module pair. A node with no live process
 * serves nothing, so it is not healthy either.
 */
export function nodeVerdict(nodeId: string, answers: ProcessAnswer[]) {
  if (!answers.length)
    return {
      healthy: false,
      body: {
        nodeId,
        healthy: false,
        processes: [],
        failing: [],
        message: `node ${nodeId} has no live process`,
      },
    };
  const failing: Failing[] = [];
  const processes = answers.map((a) => {
    if ('unanswered' in a) {
      failing.push({ processId: a.processId, reason: a.unanswered });
      const message = `process ${a.processId} ${a.unanswered}`;
      return { processId: a.processId, nodeId, healthy: false, message };
    }
    for (const p of moduleProblems(a.status.modules))
      failing.push({ processId: a.processId, moduleId: p.moduleId, reason: p.reason });
    return processVerdict(a.status).body;
  });
  const healthy = failing.length === 0;
  return {
    healthy,
    body: {
      nodeId,
      healthy,
      processes,
      failing,
      ...(healthy
        ? {}
        : {
            message: notHealthyMessage(
              failing.map((f) => ({
                name: f.moduleId ? `${f.processId}/${f.moduleId}` : f.processId,
                reason: f.reason,
              })),
            ),
          }),
    },
  };
}
