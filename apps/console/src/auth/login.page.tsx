import { useState } from 'preact/hooks';
import { ApiClient, ApiError } from '../api/api-client';

/**
 * Asks for an admin token and checks it with GET /nodes before keeping it. A refused token (401)
 * says so plainly; any other failure shows the API's message.
 */
export function LoginPage(props: { notice?: string; onLogin: (token: string) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await new ApiClient(token.trim()).get('/nodes');
      props.onLogin(token.trim());
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'This token was refused (401 Unauthorized). Check it and try again.'
          : err instanceof ApiError && err.status === 403
            ? `This token may not read the cluster (403): ${err.message}`
            : `Could not reach the control plane: ${(err as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <h1>Plexus console</h1>
      <form onSubmit={submit} class="card">
        {props.notice && !error && (
          <p class="notice" role="status">
            {props.notice}
          </p>
        )}
        <label for="token">Admin token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          required
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          autoFocus
        />
        <p class="hint">
          A token of the admin API (PLEXUS_ADMIN_TOKEN or one made with POST /tokens). It is kept in
          this tab only.
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || !token.trim()}>
          {busy ? 'Checking…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
