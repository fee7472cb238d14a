import { useCallback, useState } from 'preact/hooks';
import { seg } from '../api/api-client';
import { useApi, useLoad } from '../api/api-context';
import type { ModuleSpec, ModuleType, NodeDocument, Rollout } from '../api/schema';
import { Badge, ErrorText, Loading, TableBox } from '../layout/status';
import { href } from '../routing/router';
import { RolloutPanel } from '../rollout/rollout-panel';
import { ConfigEditor } from './config-editor';

type Lifecycle = 'start' | 'stop' | 'restart';

/** How a module runs on the node's live processes: "running on 2 of 2". */
function moduleStates(rollout: Rollout | null, moduleId: string): string {
  if (!rollout || rollout.processes.length === 0) return 'no live process';
  const counts = new Map<string, number>();
  for (const p of rollout.processes) {
    const state = p.modules[moduleId]?.state ?? 'not running';
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  return [...counts]
    .map(([state, n]) => `${state} on ${n} of ${rollout.processes.length}`)
    .join(', ');
}

/** One node: its modules with their state and lifecycle buttons, the config editor, the rollout. */
export function NodePage({ nodeId }: { nodeId: string }) {
  const api = useApi();
  const node = useLoad((a, s) => a.get<NodeDocument>(`/nodes/${seg(nodeId)}`, s), [nodeId]);
  const types = useLoad((a, s) => a.get<ModuleType[]>('/module-types', s), []);
  const rollout = useLoad(
    (a, s) => a.get<Rollout>(`/nodes/${seg(nodeId)}/rollout`, s),
    [nodeId],
    3000,
  );
  const [editing, setEditing] = useState<{
    module: ModuleSpec;
    version: number;
    notice?: string;
  } | null>(null);
  const [action, setAction] = useState<{ text: string; error?: boolean } | null>(null);
  const reloadNode = node.reload;
  const onNodeEvent = useCallback(() => reloadNode(), [reloadNode]);

  const lifecycle = async (moduleId: string, verb: Lifecycle) => {
    setAction({ text: `${verb} ${moduleId}…` });
    try {
      const answer = await api.request<{ version: number; changed: boolean }>(
        `/nodes/${seg(nodeId)}/modules/${seg(moduleId)}/${verb}`,
        { method: 'POST' },
      );
      setAction({
        text: answer.changed
          ? `${moduleId}: ${verb} recorded as version ${answer.version}.`
          : `${moduleId}: nothing to ${verb}.`,
      });
      node.reload();
    } catch (err) {
      setAction({ text: `${moduleId}: ${(err as Error).message}`, error: true });
    }
  };

  const doc = node.data;
  /** Opens the editor again on the stored config (after a save, or a 412). */
  const reopen = (moduleId: string, fresh: NodeDocument, notice?: string) => {
    const module = fresh.modules.find((m) => m.moduleId === moduleId);
    setEditing(module ? { module, version: fresh.version, notice } : null);
  };
  return (
    <section aria-labelledby="node-title">
      <div class="title-row">
        <h1 id="node-title">Node {nodeId}</h1>
        {doc && <span class="muted">version {doc.version}</span>}
      </div>
      <nav class="sub-nav" aria-label={`Node ${nodeId}`}>
        <a href={href(`/nodes/${seg(nodeId)}/history`)}>History, diff and revert</a>
        <a href={href(`/events?nodeId=${seg(nodeId)}`)}>Events of this node</a>
        <a href={href(`/processes?nodeId=${seg(nodeId)}`)}>Processes and scaling</a>
      </nav>
      <ErrorText error={node.error} />
      <Loading when={node.loading && !doc} />
      <div class="node-grid">
        <div>
          {doc && (
            <section aria-labelledby="modules-title" class="card">
              <h2 id="modules-title">Modules</h2>
              {action && (
                <p
                  class={action.error ? 'error' : 'notice'}
                  role={action.error ? 'alert' : 'status'}
                >
                  {action.text}
                </p>
              )}
              <TableBox label="Modules">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Module</th>
                      <th scope="col">Type</th>
                      <th scope="col">Enabled</th>
                      <th scope="col">State</th>
                      <th scope="col">Actions</th>
                    </tr>
                  </thead>
                  <tbody>
                    {doc.modules.map((m) => (
                      <tr key={m.moduleId} data-module={m.moduleId}>
                        <th scope="row">{m.moduleId}</th>
                        <td>
                          {m.type}
                          {m.activation === 'single' && <span class="muted"> (single)</span>}
                        </td>
                        <td>
                          <Badge ok={m.enabled} yes="enabled" no="disabled" />
                        </td>
                        <td>{moduleStates(rollout.data, m.moduleId)}</td>
                        <td class="buttons">
                          <button
                            type="button"
                            onClick={() => setEditing({ module: m, version: doc.version })}
                            aria-label={`Edit config of ${m.moduleId}`}
                          >
                            Edit config
                          </button>
                          {(['start', 'stop', 'restart'] as Lifecycle[]).map((verb) => (
                            <button
                              type="button"
                              key={verb}
                              onClick={() => lifecycle(m.moduleId, verb)}
                              aria-label={`${verb} ${m.moduleId}`}
                            >
                              {verb[0].toUpperCase() + verb.slice(1)}
                            </button>
                          ))}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableBox>
              {Object.keys(doc.properties).length > 0 && (
                <p class="muted">
                  Properties:{' '}
                  {Object.entries(doc.properties)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ')}
                </p>
              )}
            </section>
          )}
          {editing && (
            <ConfigEditor
              key={`${editing.module.moduleId}@${editing.version}`}
              nodeId={nodeId}
              version={editing.version}
              module={editing.module}
              notice={editing.notice}
              type={types.data?.find((t) => t.type === editing.module.type)}
              onSaved={(answer) => {
                node.reload();
                reopen(
                  editing.module.moduleId,
                  answer,
                  answer.changed
                    ? `Saved: the node is now at version ${answer.version}; the rollout panel follows it.`
                    : 'Nothing changed: the stored config already had these values.',
                );
              }}
              onReload={async () => {
                node.reload();
                reopen(
                  editing.module.moduleId,
                  await api.get<NodeDocument>(`/nodes/${seg(nodeId)}`),
                );
              }}
              onClose={() => setEditing(null)}
            />
          )}
        </div>
        <RolloutPanel nodeId={nodeId} onNodeEvent={onNodeEvent} />
      </div>
    </section>
  );
}
