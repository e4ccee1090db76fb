// The HTTP server: Lago's API under /api/v1 (every request and response
// checked against the contract) and the test controls under /_fake/.
import http from 'node:http';

import { loadContract } from './contract.mjs';
import { LagoFake, BASE_PATH } from './fake.mjs';
import { runSelfCheck } from './selfcheck.mjs';
import { readBody } from '../../shared/http.mjs';

const MAX_BODY = 1024 * 1024;


function send(res, status, body) {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function controls(fake, req, res, url) {
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /_fake/requests': return send(res, 200, fake.requests);
    case 'DELETE /_fake/requests': fake.requests = []; return send(res, 204);
    case 'GET /_fake/violations': return send(res, 200, fake.violations);
    case 'DELETE /_fake/violations': fake.violations = []; return send(res, 204);
    case 'GET /_fake/state': return send(res, 200, fake.state.snapshot());
    case 'GET /_fake/faults': return send(res, 200, fake.faults);
    case 'DELETE /_fake/faults': fake.faults = []; return send(res, 204);
    case 'POST /_fake/reset': fake.reset(); return send(res, 204);
    case 'POST /_fake/faults': {
      let input;
      try {
        input = JSON.parse(await readBody(req, MAX_BODY));
      } catch {
        return send(res, 400, { error: 'bad_fault', details: ['body must be JSON'] });
      }
      const r = fake.addFault(input);
      return send(res, r.status, r.body);
    }
    default: return send(res, 404, { error: 'no such control', route });
  }
}

export async function startLagoFake({
  port = 0, apiKey = 'dev-lago-key', contractFile, contract, log = () => {}, selfCheck = true,
}) {
  contract ||= await loadContract(contractFile, { log });
  if (selfCheck) {
    const problems = runSelfCheck(contract);
    if (problems.length) {
      throw new Error(`self-check: the fake's own answers break the contract:\n${JSON.stringify(problems, null, 2)}`);
    }
  }
  const fake = new LagoFake({ contract, apiKey, log });

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    try {
      if (url.pathname.startsWith('/_fake/')) return await controls(fake, req, res, url);
      if (url.pathname !== BASE_PATH && !url.pathname.startsWith(`${BASE_PATH}/`)) {
        return send(res, 404, { status: 404, error: 'Not Found' });
      }
      const rawBody = await readBody(req, MAX_BODY);
      const { status, body } = fake.handle({
        method: req.method, path: url.pathname, query: url.searchParams, headers: req.headers, rawBody,
      });
      log(`lago-fake: ${req.method} ${url.pathname}${url.search} -> ${status}`);
      return send(res, status, body);
    } catch (err) {
      log(`lago-fake: ${req.method} ${req.url}: ${err.stack || err}`);
      if (!res.headersSent) send(res, err.status || 500, { status: err.status || 500, error: err.message });
      return undefined;
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    fake,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}
