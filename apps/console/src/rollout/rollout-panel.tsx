import { useEffect, useState } from 'preact/hooks';
import { seg } from '../api/api-client';
import { useApi, useLoad } from '../api/api-context';
import { watchEvents } from '../api/event-watch';
import type { PlexusEvent, Rollout } from '../api/schema';
import { Badge, ErrorText, TableBox, time } from '../layout/status';

/** The events that move a rollout: a new version of the node, or a process applying one. */
const ROLLOUT_EVENTS = [
  'NodeCreated',
  'NodePropertiesChanged',
  'ModuleAdded',
  'ModuleConfigChanged',
  'ModuleStarted',
  'ModuleStopped',
  'ModuleRemoved',
  'ProcessJoined',
  'ProcessLeft',
  'ProcessLost',
  'ProcessConfigApplied',
  'ProcessConfigFailed',
];

const describe = (e: PlexusEvent) => {
  const data = e.data as { processId?: string; version?: number; appliedVersion?: number };
  const process = data.processId ?? e.streamId.replace(/^process\//, '');
  if (e.type.startsWith('Process'))
    return `${process}: ${e.type}${data.version !== undefined ? ` (version ${data.version})` : ''}`;
  return `node version ${e.version}: ${e.type}${e.metadata.reason ? ` (${e.metadata.reason})` : ''}`;
};

/**
 * The live rollout of a node: each live process with the version it applied, updated from the
 * /watch stream as processes report, with the rollout read again on every such event (the
 * events say what happened, the rollout says where every process stands now).
 */
export function RolloutPanel(props: { nodeId: string; onNodeEvent?: (e: PlexusEvent) => void }) {
  const api = useApi();
  const rollout = useLoad(
    (a, signal) => a.get<Rollout>(`/nodes/${seg(props.nodeId)}/rollout`, signal),
    [props.nodeId],
  );
  const [stream, setStream] = useState<'connecting' | 'live' | 'reconnecting'>('connecting');
  const [recent, setRecent] = useState<PlexusEvent[]>([]);
  const { reload } = rollout;
  const { onNodeEvent } = props;

  useEffect(() => {
    const controller = new AbortController();
    void watchEvents(
      api,
      { nodeId: props.nodeId, type: ROLLOUT_EVENTS },
      (event) => {
        setRecent((list) => [event, ...list].slice(0, 8));
        reload();
        if (!event.type.startsWith('Process')) onNodeEvent?.(event);
      },
      controller.signal,
      (state) => {
        setStream(state);
        if (state === 'live') reload();
      },
    );
    return () => controller.abort();
  }, [api, props.nodeId, reload, onNodeEvent]);

  const r = rollout.data;
  const done = r ? r.processes.filter((p) => p.appliedVersion === r.version && p.ok).length : 0;
  return (
    <section aria-labelledby="rollout-title" class="card">
      <div class="title-row">
        <h2 id="rollout-title">Rollout</h2>
        <span class={`stream ${stream}`}>
          {stream === 'live' ? 'live' : stream === 'connecting' ? 'connecting…' : 'reconnecting…'}
        </span>
      </div>
      <ErrorText error={rollout.error} />
      {r && (
        <>
          <p aria-live="polite" id="rollout-summary" data-converged={String(r.converged)}>
            {r.converged
              ? `Converged: every live process runs version ${r.version}.`
              : `Rolling out version ${r.version}: ${done} of ${r.processes.length} processes applied it.`}
            {r.lastChange.convergeMs !== null &&
              r.converged &&
              ` Version ${r.lastChange.version} took ${r.lastChange.convergeMs} ms to reach them all.`}
          </p>
          {r.processes.length === 0 ? (
            <p class="muted">No live process of this node.</p>
          ) : (
            <TableBox label="Processes of this node">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Process</th>
                    <th scope="col">Applied version</th>
                    <th scope="col">State</th>
                  </tr>
                </thead>
                <tbody>
                  {r.processes.map((p) => {
                    const current = p.appliedVersion === r.version && !!p.ok;
                    return (
                      <tr
                        key={p.processId}
                        data-process={p.processId}
                        data-applied={p.appliedVersion ?? ''}
                      >
                        <th scope="row">
                          {p.processId}
                          <span class="sub">
                            {p.host}, pid {p.pid}
                          </span>
                        </th>
                        <td>
                          {p.appliedVersion === r.version
                            ? `${r.version}`
                            : `${p.appliedVersion ?? '—'} → ${r.version}`}
                        </td>
                        <td>
                          <Badge
                            ok={current ? true : p.ok === false ? false : null}
                            yes="converged"
                            no={p.ok === false ? 'failed' : 'pending'}
                          />
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </TableBox>
          )}
        </>
      )}
      {recent.length > 0 && (
        <>
          <h3>Latest events</h3>
          <ul class="event-feed">
            {recent.map((e) => (
              <li key={e.eventId}>
                <time>{time(e.recordedAt)}</time> {describe(e)}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
