#!/usr/bin/env node
// Development identity provider shaped like Keycloak. See README.md.
import { parseArgs } from 'node:util';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startIdp } from './lib/app.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const USAGE = `usage: node tools/dev-idp/server.mjs [flags]

  --port N                      port on 127.0.0.1 (default 8180; 0 picks a free port)
  --realm-file PATH             Keycloak realm-export JSON (default tools/dev-idp/realm-export.json)
  --data-dir PATH               where the signing key is kept (default .cache/dev-idp in the repo)
  --access-token-lifetime SECS  access and ID token lifetime (default 300, as Keycloak)
  --test-controls               enable the /_dev/ endpoints (key rotation, minting, JWKS delay,
                                admin API faults and request log; tests only)
  -h, --help                    show this help
`;

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string', default: '8180' },
      'realm-file': { type: 'string', default: resolve(here, 'realm-export.json') },
      'data-dir': { type: 'string', default: resolve(here, '../../.cache/dev-idp') },
      'access-token-lifetime': { type: 'string', default: '300' },
      'test-controls': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }));
} catch (err) {
  process.stderr.write(`${err.message}\n\n${USAGE}`);
  process.exit(2);
}

if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const port = Number(args.port);
const accessTokenLifetime = Number(args['access-token-lifetime']);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`--port must be an integer 0..65535, got ${args.port}\n`);
  process.exit(2);
}
if (!Number.isInteger(accessTokenLifetime) || accessTokenLifetime < 1) {
  process.stderr.write(`--access-token-lifetime must be a positive integer, got ${args['access-token-lifetime']}\n`);
  process.exit(2);
}

let idp;
try {
  idp = await startIdp({
    port,
    realmFile: resolve(args['realm-file']),
    dataDir: resolve(args['data-dir']),
    accessTokenLifetime,
    testControls: args['test-controls'],
    log: (line) => process.stderr.write(`${line}\n`),
  });
} catch (err) {
  process.stderr.write(`dev-idp: failed to start: ${err.message}\n`);
  process.exit(1);
}

if (args['test-controls']) {
  process.stderr.write('dev-idp: test controls enabled under /_dev/ (never use in production)\n');
}
process.stdout.write(`dev-idp listening on ${idp.issuer}\n`);

const stop = async () => {
  await idp.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
