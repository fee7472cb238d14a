import { useCallback, useMemo, useState } from 'preact/hooks';
import { ApiClient } from './api/api-client';
import { ApiContext } from './api/api-context';
import { LoginPage } from './auth/login.page';
import { forgetToken, storedToken, storeToken } from './auth/token-store';
import { TimelinePage } from './events/timeline.page';
import { HistoryPage } from './history/history.page';
import { AppShell } from './layout/app-shell';
import { NodePage } from './nodes/node.page';
import { OverviewPage } from './overview/overview.page';
import { ProcessesPage } from './processes/processes.page';
import { useRoute } from './routing/router';

function Page({ path, params }: { path: string; params: URLSearchParams }) {
  const node = /^\/nodes\/([^/]+)(\/history)?\/?$/.exec(path);
  if (node) {
    const nodeId = decodeURIComponent(node[1]);
    return node[2] ? <HistoryPage nodeId={nodeId} /> : <NodePage key={nodeId} nodeId={nodeId} />;
  }
  if (path.startsWith('/events')) return <TimelinePage params={params} />;
  if (path.startsWith('/processes')) return <ProcessesPage params={params} />;
  if (path === '/' || path === '') return <OverviewPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>The console has no page at {path}.</p>
    </section>
  );
}

/** Login until there is a token; any 401 afterwards drops it and asks again. */
export function App() {
  const route = useRoute();
  const [token, setToken] = useState(storedToken);
  const [notice, setNotice] = useState<string | undefined>();
  const logout = useCallback((message?: string) => {
    forgetToken();
    setNotice(message);
    setToken(null);
  }, []);
  const api = useMemo(
    () =>
      token
        ? new ApiClient(token, (message) =>
            logout(`The control plane refused the token (${message}); log in again.`),
          )
        : null,
    [token, logout],
  );

  if (!api)
    return (
      <LoginPage
        notice={notice}
        onLogin={(t) => {
          storeToken(t);
          setNotice(undefined);
          setToken(t);
        }}
      />
    );
  return (
    <ApiContext.Provider value={api}>
      <AppShell path={route.path} onLogout={() => logout('Logged out.')}>
        <Page path={route.path} params={route.params} />
      </AppShell>
    </ApiContext.Provider>
  );
}
