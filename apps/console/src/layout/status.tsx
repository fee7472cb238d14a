import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';

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

/**
 * A table that scrolls sideways when it is wider than the screen; on a phone its rows become
 * cards, each cell labelled with its column's header (copied into `data-label` for the CSS).
 */
export function TableBox(props: { label: string; children: ComponentChildren }) {
  const box = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const headers = [...(box.current?.querySelectorAll('thead th') ?? [])].map(
      (th) => th.textContent ?? '',
    );
    for (const row of box.current?.querySelectorAll('tbody tr') ?? [])
      [...row.children].forEach((cell, i) => cell.setAttribute('data-label', headers[i] ?? ''));
  });
  return (
    <div class="table-box stack" role="region" aria-label={props.label} tabIndex={0} ref={box}>
      {props.children}
    </div>
  );
}

export const time = (iso: string | null | undefined) =>
  iso ? new Date(iso).toLocaleString(undefined, { hour12: false }) : '—';
