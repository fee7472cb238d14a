import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..', '..');
const SCHEMA = join(__dirname, 'plexus-api.schema.ts');

/** The CLI's client is typed from the committed openapi.json: regenerated, the types are the same. */
describe('the CLI client types', () => {
  it('are what openapi-typescript makes of openapi.json (npm run openapi regenerates them)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'plexus-schema-')), 'schema.ts');
    execFileSync(
      join(ROOT, 'node_modules', '.bin', 'openapi-typescript'),
      [join(ROOT, 'openapi.json'), '-o', out, '--silent'],
      { stdio: 'pipe' },
    );
    // Formatted as npm run openapi formats it (prettier's API needs ESM loading jest lacks).
    const fresh = execFileSync(
      join(ROOT, 'node_modules', '.bin', 'prettier'),
      ['--stdin-filepath', SCHEMA],
      { input: readFileSync(out, 'utf8'), encoding: 'utf8' },
    );
    if (fresh !== readFileSync(SCHEMA, 'utf8'))
      throw new Error(
        'apps/cli/src/api/plexus-api.schema.ts is stale: run `npm run openapi` and commit it',
      );
  }, 30_000);
});
