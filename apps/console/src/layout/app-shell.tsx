import type { ComponentChildren } from 'preact';
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
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}
