import { useState } from 'preact/hooks';
import { seg } from '../api/api-client';
import { useApi, useLoad } from '../api/api-context';
import type { ScalingPolicy, ScalingState } from '../api/schema';
import { ErrorText, time } from '../layout/status';

const DEFAULT_POLICY: ScalingPolicy = {
  min: 1,
  max: 3,
  target: 60,
  metric: 'eventLoopUtilization',
  scaleUpStabilization: 0,
  scaleDownStabilization: 300,
};

const NUMBERS: [keyof ScalingPolicy, string][] = [
  ['min', 'Minimum processes'],
  ['max', 'Maximum processes'],
  ['target', 'Target per process'],
  ['scaleUpStabilization', 'Scale-up stabilization (s)'],
  ['scaleDownStabilization', 'Scale-down stabilization (s)'],
];

/** A node's scaling policy (editable) and the autoscaler's current recommendation. */
export function ScalingCard({ nodeId }: { nodeId: string }) {
  const api = useApi();
  const state = useLoad(
    (a, s) => a.get<ScalingState>(`/nodes/${seg(nodeId)}/scaling`, s),
    [nodeId],
    5000,
  );
  const [draft, setDraft] = useState<ScalingPolicy | null>(null);
  const [result, setResult] = useState<{ text: string; error?: boolean } | null>(null);
  const policy = draft ?? state.data?.policy ?? DEFAULT_POLICY;
  const rec = state.data?.lastRecommendation;

  const save = async (event: Event) => {
    event.preventDefault();
    try {
      await api.request<ScalingState>(`/nodes/${seg(nodeId)}/scaling`, {
        method: 'PUT',
        body: policy,
      });
      setResult({ text: 'Scaling policy saved.' });
      setDraft(null);
      state.reload();
    } catch (err) {
      setResult({ text: (err as Error).message, error: true });
    }
  };

  return (
    <div class="card">
      <ErrorText error={state.error} />
      {state.data && (
        <p aria-live="polite">
          {state.data.policy
            ? `Policy set for ${nodeId}. `
            : `${nodeId} has no scaling policy yet. `}
          {state.data.desired !== null && `Desired processes: ${state.data.desired}. `}
          {rec
            ? `Last recommendation (${time(rec.recordedAt)}): ${rec.from} → ${rec.to} processes; ${rec.metric} ${rec.currentValue ?? '—'} against target ${rec.target}. ${rec.reason}`
            : 'No recommendation yet.'}
        </p>
      )}
      <form class="grid-form" onSubmit={save} aria-label={`Scaling policy of ${nodeId}`}>
        {NUMBERS.map(([key, label]) => (
          <div class="field" key={key}>
            <label for={`scaling-${key}`}>{label}</label>
            <input
              id={`scaling-${key}`}
              type="number"
              min={0}
              value={String(policy[key])}
              onInput={(e) => setDraft({ ...policy, [key]: Number(e.currentTarget.value) })}
            />
          </div>
        ))}
        <div class="field">
          <label for="scaling-metric">Metric</label>
          <select
            id="scaling-metric"
            value={policy.metric}
            onChange={(e) =>
              setDraft({ ...policy, metric: e.currentTarget.value as ScalingPolicy['metric'] })
            }
          >
            <option value="eventLoopUtilization">event-loop utilisation (%)</option>
            <option value="requestsPerSec">requests per second</option>
          </select>
        </div>
        {result && (
          <p class={result.error ? 'error' : 'notice'} role={result.error ? 'alert' : 'status'}>
            {result.text}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="primary">
            Save policy
          </button>
        </div>
      </form>
    </div>
  );
}
