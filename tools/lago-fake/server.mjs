#!/usr/bin/env node
// A stateful Lago API fake whose every request and response is checked
// against Lago's OpenAPI contract. See README.md.
import { parseArgs } from 'node:util';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startLagoFake } from './lib/app.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const USAGE = `usage: node tools/lago-fake/server.mjs [flags]

  --port N            port on 127.0.0.1 (default 3100; 0 picks a free port)
  --api-key KEY       the API key clients must send as "Authorization: Bearer KEY" (default dev-lago-key)
  --contract PATH     Lago's OpenAPI 3.1 document (default contracts/lago-openapi.yaml in this repo)
  -h, --help          show this help
`;

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string', default: '3100' },
      'api-key': { type: 'string', default: 'dev-lago-key' },
      contract: { type: 'string', default: resolve(here, '../../contracts/lago-openapi.yaml') },
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
if (!/^\d+$/.test(args.port) || port > 65535) {
  process.stderr.write(`--port must be an integer 0..65535, got ${args.port}\n`);
  process.exit(2);
}
if (!args['api-key']) {
  process.stderr.write('--api-key must not be empty\n');
  process.exit(2);
}

let lago;
try {
  lago = await startLagoFake({
    port,
    apiKey: args['api-key'],
    contractFile: resolve(args.contract),
    log: (line) => process.stderr.write(`${line}\n`),
  });
} catch (err) {
  process.stderr.write(`lago-fake: failed to start: ${err.message}\n`);
  process.exit(1);
}

process.stderr.write(`lago-fake: contract ${resolve(args.contract)} (Lago API ${lago.fake.contract.version}); test controls under /_fake/\n`);
process.stdout.write(`lago-fake listening on ${lago.url}\n`);

const stop = async () => {
  await lago.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
