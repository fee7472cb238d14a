import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { href } from '../routing/router';

const SECTIONS = [
  ['/', 'Overview'],
  ['/events', 'Events'],
  ['/processes', 'Processes'],
] as const;

/** The header with the main navigation around every page of a logged-in console. */
export function AppShell(props: {
  path: string;
  onLogout: () => void;
  children: ComponentChildren;
}) {
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // A new page moves the focus to its content, as a full page load would, so keyboard and screen
  // reader users start there (not on the link they left); the first render keeps the browser's.
  useEffect(() => {
    // The tab and the history list say which page this is.
    const heading = main.current?.querySelector('h1')?.textContent;
    document.title = heading ? `${heading} · Plexus console` : 'Plexus console';
    if (first.current) first.current = false;
    else main.current?.focus({ preventScroll: true });
  }, [props.path]);
  const current = (p: string) =>
    p === '/' ? props.path === '/' || props.path.startsWith('/nodes') : props.path.startsWith(p);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href('/')}>
          Plexus
        </a>
        <nav aria-label="Main">
          {SECTIONS.map(([p, label]) => (
            <a key={p} href={href(p)} aria-current={current(p) ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <button type="button" class="logout" onClick={props.onLogout}>
          Log out
        </button>
      </header>
      <main id="main" tabIndex={-1} ref={main}>
        {props.children}
      </main>
    </>
  );
}
