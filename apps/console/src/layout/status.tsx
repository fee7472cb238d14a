import type { ComponentChildren } from 'preact';

/** An error of a call, as the API worded it. */
export function ErrorText({ error }: { error: Error | null | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.message}
    </p>
  );
}

export function Loading({ when }: { when: boolean }) {
  return when ? (
    <p class="muted" aria-live="polite">
      Loading…
    </p>
  ) : null;
}

/** Converged (or healthy): a word, not only a colour. */
export function Badge(props: { ok: boolean | null | undefined; yes: string; no: string }) {
  const cls = props.ok ? 'badge ok' : props.ok === false ? 'badge bad' : 'badge';
  return <span class={cls}>{props.ok ? props.yes : props.no}</span>;
}

/** A table that scrolls sideways on a narrow screen instead of squeezing its columns. */
export function TableBox(props: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-box" role="region" aria-label={props.label} tabIndex={0}>
      {props.children}
    </div>
  );
}

export const time = (iso: string | null | undefined) =>
  iso ? new Date(iso).toLocaleString(undefined, { hour12: false }) : '—';
