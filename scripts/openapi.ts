/**
 * `npm run openapi`: writes the admin API's OpenAPI document to openapi.json at the repository
 * root, as the control plane serves it at /docs-json. Connects to nothing.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateEnv } from '../apps/control-plane/src/env';
import {
  openApiDocumentOffline,
  openApiText,
} from '../apps/control-plane/src/openapi/openapi-document';

const OPENAPI_FILE = join(__dirname, '..', 'openapi.json');

async function main() {
  // Placeholders: the document does not depend on the environment, and nothing connects.
  const env = validateEnv({
    PLEXUS_ADMIN_TOKEN: 'placeholder-admin-token',
    PLEXUS_SECRETS_KEY: Buffer.alloc(32).toString('base64'),
  });
  const text = openApiText(await openApiDocumentOffline(env));
  writeFileSync(OPENAPI_FILE, text);
  process.stderr.write(`wrote ${OPENAPI_FILE} (${text.length} bytes)\n`);
}

main().catch((err) => {
  process.stderr.write(`openapi failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
