import { useState } from 'preact/hooks';
import { query, seg } from '../api/api-client';
import { useLoad } from '../api/api-context';
import type { BatchJobList, NodeSummary, Process } from '../api/schema';
import { Badge, ErrorText, Loading, TableBox, time } from '../layout/status';
import { href, navigate } from '../routing/router';
import { ScalingCard } from './scaling-card';

/** Processes with their status, batch jobs with their progress, and a node's scaling. */
export function ProcessesPage({ params }: { params: URLSearchParams }) {
  const nodeId = params.get('nodeId') ?? '';
  const status = params.get('status') ?? '';
  const nodes = useLoad((a, s) => a.get<NodeSummary[]>('/nodes', s), []);
  const processes = useLoad(
    (a, s) => a.get<Process[]>(`/processes${query({ nodeId, status })}`, s),
    [nodeId, status],
    5000,
  );
  const jobs = useLoad(
    (a, s) => a.get<BatchJobList>(`/batch-jobs${query({ nodeId })}`, s),
    [nodeId],
    5000,
  );
  const [scalingNode, setScalingNode] = useState('');
  const scalingFor = scalingNode || nodeId || nodes.data?.[0]?.nodeId || '';
  const filter = (change: Record<string, string>) =>
    navigate(`/processes${query({ nodeId, status, ...change })}`);

  return (
    <section aria-labelledby="processes-title">
      <h1 id="processes-title">Processes</h1>
      <div class="card inline-form" role="group" aria-label="Filter processes">
        <label for="proc-node">Node</label>
        <select
          id="proc-node"
          value={nodeId}
          onChange={(e) => filter({ nodeId: e.currentTarget.value })}
        >
          <option value="">(all nodes)</option>
          {nodes.data?.map((n) => (
            <option key={n.nodeId}>{n.nodeId}</option>
          ))}
        </select>
        <label for="proc-status">Status</label>
        <select
          id="proc-status"
          value={status}
          onChange={(e) => filter({ status: e.currentTarget.value })}
        >
          <option value="">(any)</option>
          <option>up</option>
          <option>left</option>
          <option>lost</option>
        </select>
      </div>
      <ErrorText error={processes.error} />
      <Loading when={processes.loading && !processes.data} />
      {processes.data && (
        <TableBox label="Processes">
          <table>
            <thead>
              <tr>
                <th scope="col">Process</th>
                <th scope="col">Node</th>
                <th scope="col">Status</th>
                <th scope="col">Host / pid</th>
                <th scope="col">Port offset</th>
                <th scope="col">Applied version</th>
                <th scope="col">Modules</th>
                <th scope="col">Load</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {processes.data.map((p) => (
                <tr key={p.processId} data-process={p.processId}>
                  <th scope="row">{p.processId}</th>
                  <td>{p.nodeId}</td>
                  <td>
                    <Badge
                      ok={p.status === 'up' ? true : p.status === 'lost' ? false : null}
                      yes="up"
                      no={p.status}
                    />
                  </td>
                  <td>
                    {p.host} / {p.pid}
                  </td>
                  <td>{p.portOffset}</td>
                  <td>{p.appliedVersion ?? '—'}</td>
                  <td>
                    {Object.entries(p.modules)
                      .map(([id, m]) => `${id}: ${m.state}`)
                      .join(', ') || '—'}
                  </td>
                  <td>
                    {p.load
                      ? `${Math.round(p.load.eventLoopUtilization * 100)}% loop, ${p.load.requestsPerSec.toFixed(1)} req/s`
                      : '—'}
                  </td>
                  <td>{time(p.lastSeenAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      )}
      {processes.data?.length === 0 && <p>No process matches.</p>}

      <h2>Batch jobs</h2>
      <ErrorText error={jobs.error} />
      {jobs.data && jobs.data.jobs.length === 0 && (
        <p>No batch jobs{nodeId ? ` on ${nodeId}` : ''}.</p>
      )}
      {jobs.data && jobs.data.unanswered.length > 0 && (
        <p class="notice">
          Not answering: {jobs.data.unanswered.map((u) => `${u.nodeId}/${u.moduleId}`).join(', ')}
        </p>
      )}
      {jobs.data && jobs.data.jobs.length > 0 && (
        <TableBox label="Batch jobs">
          <table>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Type</th>
                <th scope="col">Module</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.jobs.map((j) => (
                <tr key={j.jobId}>
                  <th scope="row">{j.jobId.slice(0, 8)}</th>
                  <td>{j.jobType}</td>
                  <td>
                    {j.nodeId}/{j.moduleId}
                  </td>
                  <td>
                    {j.status}
                    {j.error && <span class="error-inline"> {j.error}</span>}
                  </td>
                  <td>
                    <progress
                      max={100}
                      value={j.progress.percent}
                      aria-label={`Progress of job ${j.jobId.slice(0, 8)}`}
                    />{' '}
                    {Math.round(j.progress.percent)}% ({j.progress.doneChunks}/
                    {j.progress.totalChunks}
                    {j.progress.failedChunks ? `, ${j.progress.failedChunks} failed` : ''})
                  </td>
                  <td>{time(j.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      )}

      <h2>Scaling</h2>
      {nodes.data && nodes.data.length > 0 && (
        <div class="inline-form">
          <label for="scaling-node">Node</label>
          <select
            id="scaling-node"
            value={scalingFor}
            onChange={(e) => setScalingNode(e.currentTarget.value)}
          >
            {nodes.data.map((n) => (
              <option key={n.nodeId}>{n.nodeId}</option>
            ))}
          </select>
        </div>
      )}
      {scalingFor && <ScalingCard key={scalingFor} nodeId={scalingFor} />}
      {nodeId && (
        <p>
          <a href={href(`/nodes/${seg(nodeId)}`)}>Back to node {nodeId}</a>
        </p>
      )}
    </section>
  );
}
