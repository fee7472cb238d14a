import { useEffect, useState } from 'preact/hooks';
import { query } from '../api/api-client';
import { useApi } from '../api/api-context';
import type { EventPage, PlexusEvent } from '../api/schema';
import { ErrorText, TableBox, time } from '../layout/status';
import { navigate } from '../routing/router';

const EVENT_TYPES = [
  'NodeCreated',
  'NodePropertiesChanged',
  'NodeArchived',
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
  'ProcessLimitExceeded',
  'ScalingPolicySet',
  'ScaleRecommended',
];

const FILTERS = ['nodeId', 'type', 'actor', 'moduleId', 'from', 'to'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

/** A datetime-local value (local time) as the ISO time the API wants. */
const iso = (local: string) => (local ? new Date(local).toISOString() : '');

/** One line of what an event did. */
function summary(e: PlexusEvent): string {
  const d = e.data as Record<string, any>;
  if (Array.isArray(d.changes))
    return `${d.moduleId ? `${d.moduleId}: ` : ''}${d.changes
      .map(
        (c: { key: string; old: unknown; new: unknown }) =>
          `${c.key} ${c.old ?? '∅'} → ${c.new ?? '∅'}`,
      )
      .join(', ')}`;
  if (e.type.startsWith('Process')) return `${d.processId ?? ''} version ${d.version ?? '—'}`;
  if (d.moduleId) return `${d.moduleId}${d.type ? ` (${d.type})` : ''}`;
  return '';
}

/**
 * The audit timeline: GET /events with its filters, newest first, one page at a time through the
 * `next` cursor. The filters live in the address, so a filtered view can be linked to.
 */
export function TimelinePage({ params }: { params: URLSearchParams }) {
  const api = useApi();
  const initial = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? ''])) as Filters;
  const [filters, setFilters] = useState<Filters>(initial);
  const [events, setEvents] = useState<PlexusEvent[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const applied = params.toString();
  // `?limit=` in the address picks another page size.
  const pageSize = Number(params.get('limit')) || 50;

  const load = async (after?: string) => {
    setBusy(true);
    setError(null);
    try {
      const f = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? ''])) as Filters;
      const page = await api.get<EventPage>(
        `/events${query({ ...f, from: iso(f.from), to: iso(f.to), limit: pageSize, after })}`,
      );
      setEvents((list) => (after ? [...list, ...page.events] : page.events));
      setNext(page.next);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    setFilters(Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? ''])) as Filters);
    void load();
    // The address is the filter: load again whenever it changes.
  }, [applied]);

  const apply = (event: Event) => {
    event.preventDefault();
    navigate(`/events${query({ ...filters, limit: params.get('limit') })}`);
  };
  const input = (name: keyof Filters, label: string, type = 'text') => (
    <div class="field">
      <label for={`filter-${name}`}>{label}</label>
      <input
        id={`filter-${name}`}
        type={type}
        value={filters[name]}
        onInput={(e) => setFilters({ ...filters, [name]: e.currentTarget.value })}
      />
    </div>
  );

  return (
    <section aria-labelledby="timeline-title">
      <h1 id="timeline-title">Event timeline</h1>
      <form class="card filters" onSubmit={apply} aria-label="Filter events">
        {input('nodeId', 'Node ID')}
        <div class="field">
          <label for="filter-type">Type</label>
          <select
            id="filter-type"
            value={filters.type}
            onChange={(e) => setFilters({ ...filters, type: e.currentTarget.value })}
          >
            <option value="">(any)</option>
            {EVENT_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </div>
        {input('actor', 'Actor')}
        {input('moduleId', 'Module ID')}
        {input('from', 'From (inclusive)', 'datetime-local')}
        {input('to', 'To (exclusive)', 'datetime-local')}
        <div class="actions">
          <button type="submit" class="primary">
            Apply filters
          </button>
          <button type="button" onClick={() => navigate('/events')}>
            Clear
          </button>
        </div>
      </form>
      <ErrorText error={error} />
      {!busy && !error && events.length === 0 && <p>No events match these filters.</p>}
      {events.length > 0 && (
        <TableBox label="Events">
          <table class="events">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Node</th>
                <th scope="col">Type</th>
                <th scope="col">Version</th>
                <th scope="col">Actor</th>
                <th scope="col">Reason</th>
                <th scope="col">What</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.eventId} data-type={e.type} data-event={e.eventId}>
                  <td>{time(e.recordedAt)}</td>
                  <td>{e.nodeId}</td>
                  <td>{e.type}</td>
                  <td>{e.version}</td>
                  <td>{e.metadata.actor}</td>
                  <td class="reason">{e.metadata.reason ?? ''}</td>
                  <td>{summary(e)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      )}
      <div class="actions">
        {next && (
          <button type="button" disabled={busy} onClick={() => load(next)}>
            {busy ? 'Loading…' : 'Older events'}
          </button>
        )}
        {busy && !next && <span class="muted">Loading…</span>}
        <span class="muted">{events.length} shown</span>
      </div>
    </section>
  );
}
