import { readFileSync } from 'node:fs';
import { openApiText } from '../apps/control-plane/src/openapi/openapi-document';
import { createTestDatabase } from './support/databases';
import { RunningControlPlane, startControlPlane } from './support/control-plane';
import { OPENAPI_FILE } from './support/openapi-contract';

/** The committed openapi.json is the document a running control plane serves, byte for byte. */
describe('committed OpenAPI document', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;

  beforeAll(async () => {
    db = await createTestDatabase();
    cp = await startControlPlane({ databaseUrl: db.url });
  });
  afterAll(async () => {
    await cp?.close();
    await db?.drop();
  });

  it('equals the document GET /docs-json serves', async () => {
    const res = await fetch(`${cp.url}/docs-json`);
    expect(res.status).toBe(200);
    const served = openApiText(await res.json());
    const committed = readFileSync(OPENAPI_FILE, 'utf8');
    if (served !== committed)
      throw new Error(
        'openapi.json differs from the document the control plane serves at /docs-json: run `npm run openapi` and commit openapi.json',
      );
    expect(Object.keys(JSON.parse(committed).paths).length).toBeGreaterThan(30);
  });
});
