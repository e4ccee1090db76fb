// Shared helpers: start the fake (in the test process, or as the real command
// line) and talk to it.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startLagoFake } from '../lib/app.mjs';
import { loadContract } from '../lib/contract.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const SERVER = resolve(here, '..', 'server.mjs');
export const CONTRACT = resolve(here, '..', '..', '..', 'contracts', 'lago-openapi.yaml');
export const KEY = 'dev-lago-key';

let contract;
// Loading and checking the contract takes a few seconds: once per test file.
export function sharedContract() {
  contract ||= loadContract(CONTRACT);
  return contract;
}

function handle(url, extra) {
  const call = async (method, path, body, { key = KEY, query = '', headers = {} } = {}) => {
    const h = { ...headers };
    if (key) h.authorization = `Bearer ${key}`;
    let payload;
    if (body !== undefined) {
      h['content-type'] ??= 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await fetch(`${url}/api/v1${path}${query ? `?${query}` : ''}`, { method, headers: h, body: payload });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const control = async (method, name, body) => {
    const res = await fetch(`${url}/_fake/${name}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    url,
    call,
    control,
    violations: async () => (await control('GET', 'violations')).body,
    state: async () => (await control('GET', 'state')).body,
    requests: async () => (await control('GET', 'requests')).body,
    reset: () => control('POST', 'reset'),
    ...extra,
  };
}

// In the test process by default; with `cli: true` as `node server.mjs --port 0 ...`,
// waiting for its ready line.
export async function startServer({ cli = false, args = [], apiKey } = {}) {
  if (!cli) {
    const logs = [];
    const lago = await startLagoFake({
      port: 0, apiKey: apiKey || KEY, contract: await sharedContract(), log: (l) => logs.push(l),
    });
    return handle(lago.url, { fake: lago.fake, logs, stop: () => lago.close() });
  }
  const proc = spawn(process.execPath, [SERVER, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 30_000);
    proc.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/^lago-fake listening on (http:\/\/127\.0\.0\.1:\d+)$/m);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`server exited with ${code}: ${stderr}`), { code, stderr }));
    });
  });
  return handle(url, {
    proc,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  });
}

// Runs the command line to its end (for start-up failures).
export function runCli(args) {
  return new Promise((resolvePromise) => {
    const proc = spawn(process.execPath, [SERVER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    proc.on('exit', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

export const customer = (externalId, extra = {}) => ({ customer: { external_id: externalId, name: 'Alice Anderson', email: 'alice@example.com', currency: 'USD', ...extra } });
export const plan = (code, amountCents, extra = {}) => ({
  plan: {
    name: code, code, interval: 'monthly', amount_cents: amountCents, amount_currency: 'USD', pay_in_advance: true, ...extra,
  },
});
export const subscription = (externalId, customerId, planCode, extra = {}) => ({
  subscription: { external_id: externalId, external_customer_id: customerId, plan_code: planCode, ...extra },
});
