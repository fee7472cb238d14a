import { moduleProblems, notHealthyMessage, ProcessRuntimeStatus } from '@plexus/domain';

/**
 * The management port's GET /health: 200 `{status: 'UP', modules}` when every module is healthy
 * (moduleProblems: DEGRADED counts as healthy), else 503 `{status: 'DOWN', modules, message}`
 * naming the failing modules.
 */
export function healthAnswer(status: ProcessRuntimeStatus): {
  statusCode: 200 | 503;
  body: Record<string, unknown>;
} {
  const problems = moduleProblems(status.modules);
  const base = {
    processId: status.processId,
    nodeId: status.nodeId,
    appliedVersion: status.appliedVersion,
    modules: status.modules,
    checkedAt: status.checkedAt,
  };
  if (!problems.length) return { statusCode: 200, body: { status: 'UP', ...base } };
  return {
    statusCode: 503,
    body: {
      status: 'DOWN',
      ...base,
      message: notHealthyMessage(problems.map((p) => ({ name: p.moduleId, reason: p.reason }))),
    },
  };
}
