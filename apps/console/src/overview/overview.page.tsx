import { seg } from '../api/api-client';
import { useLoad } from '../api/api-context';
import type { NodeSummary, Rollout } from '../api/schema';
import { Badge, ErrorText, Loading, TableBox, time } from '../layout/status';
import { href } from '../routing/router';

interface NodeRow extends NodeSummary {
  converged: boolean | null;
}

/** Every node with its processes and whether they all run its latest version; refreshed every 5 s. */
export function OverviewPage() {
  const nodes = useLoad(
    async (api, signal) => {
      const list = await api.get<NodeSummary[]>('/nodes', signal);
      return Promise.all(
        list.map(async (node): Promise<NodeRow> => {
          const rollout = await api
            .get<Rollout>(`/nodes/${seg(node.nodeId)}/rollout`, signal)
            .catch(() => null);
          return { ...node, converged: rollout ? rollout.converged : null };
        }),
      );
    },
    [],
    5000,
  );

  return (
    <section aria-labelledby="overview-title">
      <div class="title-row">
        <h1 id="overview-title">Cluster overview</h1>
        <button type="button" onClick={nodes.reload}>
          Refresh
        </button>
      </div>
      <ErrorText error={nodes.error} />
      <Loading when={nodes.loading && !nodes.data} />
      {nodes.data && nodes.data.length === 0 && (
        <p>No nodes yet. Start a worker with --node-id and --properties to create one.</p>
      )}
      {nodes.data && nodes.data.length > 0 && (
        <TableBox label="Nodes">
          <table>
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Version</th>
                <th scope="col">Modules</th>
                <th scope="col">Live processes</th>
                <th scope="col">Rollout</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {nodes.data.map((node) => (
                <tr key={node.nodeId} data-node={node.nodeId}>
                  <th scope="row">
                    <a href={href(`/nodes/${seg(node.nodeId)}`)}>{node.nodeId}</a>
                  </th>
                  <td>{node.version}</td>
                  <td>{node.moduleCount}</td>
                  <td>{node.liveProcessCount}</td>
                  <td>
                    <Badge
                      ok={node.converged}
                      yes="converged"
                      no={node.converged === null ? 'unknown' : 'converging'}
                    />
                  </td>
                  <td>{time(node.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      )}
    </section>
  );
}
