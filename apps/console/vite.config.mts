import { defineConfig } from 'vite';

/**
 * `vite build apps/console` (npm run build:console): static files in dist/apps/console that the
 * control plane serves at /console. Preact's automatic JSX runtime through Vite's own transform:
 * no Babel, no plugin. Paths are relative to the root, apps/console.
 */
export default defineConfig({
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../../dist/apps/console',
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    // `npx vite apps/console --config apps/console/vite.config.mts` while working on the console:
    // API calls go to a running control plane (PLEXUS_URL, default port 9000).
    proxy: Object.fromEntries(
      ['/nodes', '/events', '/watch', '/processes', '/batch-jobs', '/module-types'].map((path) => [
        path,
        process.env.PLEXUS_URL ?? 'http://127.0.0.1:9000',
      ]),
    ),
  },
});
