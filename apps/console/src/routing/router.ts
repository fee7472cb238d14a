import { useEffect, useState } from 'preact/hooks';

/** Where the console is mounted; the control plane answers index.html for every path below it. */
export const BASE = '/console';

/** A console path (`/nodes/x`) as an address under the base. */
export const href = (path: string) => `${BASE}${path}`;

/** The current console path (without the base) and its query. */
export function currentRoute(): { path: string; params: URLSearchParams } {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '/';
  return { path: path || '/', params: new URLSearchParams(location.search) };
}

export function navigate(path: string) {
  history.pushState(null, '', href(path));
  dispatchEvent(new PopStateEvent('popstate'));
  scrollTo(0, 0);
}

/** Re-renders on every navigation (links, back and forward). */
export function useRoute() {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return route;
}

/** Plain links that navigate without reloading the page (modified clicks open a tab as usual). */
export function onLinkClick(event: MouseEvent) {
  const link = (event.target as Element).closest?.('a');
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(BASE)) return;
  event.preventDefault();
  navigate(url.pathname.slice(BASE.length) + url.search);
}
