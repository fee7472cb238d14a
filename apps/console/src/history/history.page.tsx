import { useState } from 'preact/hooks';
import { ApiError, query, seg } from '../api/api-client';
import { useApi, useLoad } from '../api/api-context';
import type { KeyChange, NodeDiff, NodeDocument, NodeWriteAnswer } from '../api/schema';
import { ErrorText, Loading } from '../layout/status';
import { href } from '../routing/router';

const shown = (v: string | null | undefined) => (v === null || v === undefined ? '(absent)' : v);

function Changes({ changes, label }: { changes: KeyChange[]; label: string }) {
  if (!changes.length) return null;
  return (
    <dl class="changes" aria-label={label}>
      {changes.map((c) => (
        <div key={c.key} data-key={c.key}>
          <dt>
            {c.key}
            {c.secret && <span class="badge">secret</span>}
          </dt>
          <dd>
            <del>{shown(c.old)}</del> → <ins>{shown(c.new)}</ins>
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** What changed between two versions of a node (secrets redacted by the API). */
export function DiffView({ diff }: { diff: NodeDiff }) {
  const empty =
    !diff.properties.length &&
    !diff.modulesAdded.length &&
    !diff.modulesRemoved.length &&
    !diff.modulesChanged.length;
  return (
    <div class="diff" id="diff" aria-live="polite">
      <h3>
        Version {diff.from} → {diff.to}
      </h3>
      {empty && <p>No difference: both versions have the same configuration.</p>}
      {diff.properties.length > 0 && (
        <>
          <h4>Node properties</h4>
          <Changes changes={diff.properties} label="Node properties" />
        </>
      )}
      {diff.modulesAdded.map((m) => (
        <p key={`+${m.moduleId}`} class="added">
          + module {m.moduleId} ({m.type})
        </p>
      ))}
      {diff.modulesRemoved.map((m) => (
        <p key={`-${m.moduleId}`} class="removed">
          − module {m.moduleId} ({m.type})
        </p>
      ))}
      {diff.modulesChanged.map((m) => (
        <div key={m.moduleId} data-module={m.moduleId}>
          <h4>Module {m.moduleId}</h4>
          {m.enabled && (
            <p>
              enabled: {String(m.enabled.old)} → {String(m.enabled.new)}
            </p>
          )}
          {m.type && (
            <p>
              type: {m.type.old} → {m.type.new}
            </p>
          )}
          {m.activation && (
            <p>
              activation: {m.activation.old} → {m.activation.new}
            </p>
          )}
          {m.requires && (
            <p>
              requires: {JSON.stringify(m.requires.old)} → {JSON.stringify(m.requires.new)}
            </p>
          )}
          <Changes changes={m.config} label={`Config of ${m.moduleId}`} />
        </div>
      ))}
    </div>
  );
}

/**
 * A node's history: the diff between any two versions, and a revert to one of them with a
 * reason (recorded on the events and shown in the timeline).
 */
export function HistoryPage({ nodeId }: { nodeId: string }) {
  const api = useApi();
  const node = useLoad((a, s) => a.get<NodeDocument>(`/nodes/${seg(nodeId)}`, s), [nodeId]);
  const latest = node.data?.version ?? 1;
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [diff, setDiff] = useState<{ data?: NodeDiff; error?: Error } | null>(null);
  const [revertTo, setRevertTo] = useState('');
  const [reason, setReason] = useState('');
  const [reverted, setReverted] = useState<{ text: string; error?: boolean } | null>(null);
  const fromValue = from || String(Math.max(1, latest - 1));
  const toValue = to || String(latest);

  const showDiff = async (event: Event) => {
    event.preventDefault();
    try {
      const data = await api.get<NodeDiff>(
        `/nodes/${seg(nodeId)}/diff${query({ from: fromValue, to: toValue })}`,
      );
      setDiff({ data });
      setRevertTo(String(data.from));
    } catch (error) {
      setDiff({ error: error as Error });
    }
  };

  const revert = async (event: Event) => {
    event.preventDefault();
    try {
      const answer = await api.request<NodeWriteAnswer>(`/nodes/${seg(nodeId)}/revert`, {
        method: 'POST',
        body: { toVersion: Number(revertTo), reason: reason.trim() },
        headers: { 'if-match': `"${latest}"` },
      });
      setReverted({
        text: answer.changed
          ? `Reverted to the configuration of version ${revertTo}: the node is now at version ${answer.version}.`
          : `Version ${revertTo} has the current configuration already: nothing to revert.`,
      });
      node.reload();
    } catch (error) {
      const stale = error instanceof ApiError && error.status === 412;
      setReverted({
        text: stale
          ? `Someone else changed this node after this page loaded it (version ${latest}); reload the page and check the diff again. Nothing was reverted.`
          : (error as Error).message,
        error: true,
      });
      if (stale) node.reload();
    }
  };

  return (
    <section aria-labelledby="history-title">
      <div class="title-row">
        <h1 id="history-title">History of {nodeId}</h1>
        {node.data && <span class="muted">latest version {latest}</span>}
      </div>
      <nav class="sub-nav" aria-label={`Node ${nodeId}`}>
        <a href={href(`/nodes/${seg(nodeId)}`)}>Back to the node</a>
        <a href={href(`/events?nodeId=${seg(nodeId)}`)}>Events of this node</a>
      </nav>
      <ErrorText error={node.error} />
      <Loading when={node.loading && !node.data} />
      <form class="card inline-form" onSubmit={showDiff} aria-label="Compare two versions">
        <h2>Compare two versions</h2>
        <label for="diff-from">From version</label>
        <input
          id="diff-from"
          type="number"
          min={1}
          max={latest}
          value={fromValue}
          onInput={(e) => setFrom(e.currentTarget.value)}
        />
        <label for="diff-to">To version</label>
        <input
          id="diff-to"
          type="number"
          min={1}
          max={latest}
          value={toValue}
          onInput={(e) => setTo(e.currentTarget.value)}
        />
        <button type="submit">Show diff</button>
      </form>
      {diff?.error && <ErrorText error={diff.error} />}
      {diff?.data && (
        <section class="card" aria-label="Diff">
          <DiffView diff={diff.data} />
        </section>
      )}
      <form class="card" onSubmit={revert} aria-labelledby="revert-title">
        <h2 id="revert-title">Revert</h2>
        <p class="hint">
          Restores the configuration of an earlier version with new events; the history keeps
          everything.
        </p>
        <label for="revert-to">Revert to version</label>
        <input
          id="revert-to"
          type="number"
          min={1}
          max={latest}
          required
          value={revertTo}
          onInput={(e) => setRevertTo(e.currentTarget.value)}
        />
        <label for="revert-reason">Reason (recorded with the events)</label>
        <textarea
          id="revert-reason"
          required
          rows={2}
          value={reason}
          onInput={(e) => setReason(e.currentTarget.value)}
        />
        {reverted && (
          <p class={reverted.error ? 'error' : 'notice'} role={reverted.error ? 'alert' : 'status'}>
            {reverted.text}
          </p>
        )}
        <button type="submit" class="primary" disabled={!revertTo || !reason.trim()}>
          Revert
        </button>
      </form>
    </section>
  );
}
