import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiClient } from './api-client';

export const ApiContext = createContext<ApiClient | null>(null);

export function useApi(): ApiClient {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside a logged-in console');
  return api;
}

export interface Loaded<T> {
  data: T | null;
  error: Error | null;
  loading: boolean;
  /** Loads again, keeping the current data on screen meanwhile. */
  reload: () => void;
}

/**
 * The answer of `load`, loaded again whenever `deps` change or `reload` is called; `everyMs`
 * refreshes it periodically. An older answer never overwrites a newer one.
 */
export function useLoad<T>(
  load: (api: ApiClient, signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  everyMs?: number,
): Loaded<T> {
  const api = useApi();
  const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    const controller = new AbortController();
    const call = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    load(api, controller.signal).then(
      (data) => call === latest.current && setState({ data, error: null, loading: false }),
      (error: Error) => {
        if (call === latest.current && !controller.signal.aborted)
          setState((s) => ({ ...s, error, loading: false }));
      },
    );
    return () => controller.abort();
  }, [api, tick, ...deps]);

  useEffect(() => {
    if (!everyMs) return;
    const timer = setInterval(reload, everyMs);
    return () => clearInterval(timer);
  }, [everyMs, reload]);

  return { ...state, reload };
}
