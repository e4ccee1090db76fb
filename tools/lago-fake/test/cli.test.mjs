import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startServer, runCli, customer } from './helpers.mjs';

const servers = [];
after(() => Promise.all(servers.map((s) => s.stop())));

test('the command line prints exactly one ready line, binds 127.0.0.1 and takes --api-key', async () => {
  const lago = await startServer({ cli: true, args: ['--api-key', 'other-key'] });
  servers.push(lago);
  assert.match(lago.stdout(), /^lago-fake listening on http:\/\/127\.0\.0\.1:\d+\n$/);
  assert.equal((await lago.call('GET', '/plans')).status, 401, 'the default key is not accepted');
  const r = await lago.call('POST', '/customers', customer('u'), { key: 'other-key' });
  assert.equal(r.status, 200);
  assert.deepEqual((await lago.control('GET', 'violations')).body, []);
  await lago.stop();
  assert.equal(lago.proc.exitCode, 0);
  assert.match(lago.stderr(), /POST \/api\/v1\/customers -> 200/, 'logs go to stderr');
});

test('it refuses to start without its contract, or with a document that is not OpenAPI 3.1', async () => {
  const missing = await runCli(['--port', '0', '--contract', '/nonexistent/lago-openapi.yaml']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, '');
  assert.match(missing.stderr, /contract file not found: \/nonexistent\/lago-openapi\.yaml/);

  const dir = mkdtempSync(join(tmpdir(), 'lago-fake-test-'));
  try {
    const old = join(dir, 'old.yaml');
    writeFileSync(old, 'openapi: 3.0.3\ninfo: {title: x, version: "1"}\npaths: {}\n');
    const r = await runCli(['--port', '0', '--contract', old]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /expected 3\.1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const bad = await runCli(['--port', 'eighty']);
  assert.equal(bad.code, 2);
  assert.match((await runCli(['--help'])).stdout, /--contract PATH/);
});
