// The fake itself, independent of HTTP so the startup self-check can drive
// it: Lago's API under /api/v1, every request and response checked against
// the contract, with recording, violations and injected faults for tests.
import { STATUS_CODES } from 'node:http';

import { LagoState, HANDLERS, mirrorOnlyProblems } from './lago.mjs';

export const BASE_PATH = '/api/v1';

// Repeated keys (`status[]=a&status[]=b`) become arrays.
function queryObject(params) {
  const out = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    out[key] = values.length > 1 ? values : values[0];
  }
  return out;
}

// The fake's own signal to the test, not a Lago answer, so it is not itself
// checked against the contract.
const contractViolation = (details) => ({
  status: 400, body: { status: 400, error: 'contract_violation', details },
});

export class LagoFake {
  constructor({ contract, apiKey, log = () => {} }) {
    this.contract = contract;
    this.apiKey = apiKey;
    this.log = log;
    this.state = new LagoState();
    this.requests = [];
    this.violations = [];
    this.faults = [];
  }

  reset() {
    this.state.reset();
    this.requests = [];
    this.violations = [];
    this.faults = [];
  }

  violation(kind, entry) {
    const v = { kind, at: new Date().toISOString(), ...entry };
    this.violations.push(v);
    this.log(`lago-fake: VIOLATION ${kind} ${entry.method} ${entry.path}: ${JSON.stringify(entry.details ?? entry.message)}`);
  }

  takeFault(method, path) {
    const f = this.faults.find((x) => (x.method === '*' || x.method === method) && path.startsWith(x.path_prefix));
    if (!f) return null;
    if (f.remaining != null) {
      f.remaining -= 1;
      if (f.remaining <= 0) this.faults.splice(this.faults.indexOf(f), 1);
    }
    return f;
  }

  // One API request: {method, path (with /api/v1), query: URLSearchParams,
  // headers, rawBody} -> {status, body}. Records it and any violation.
  handle({ method, path, query, headers, rawBody }) {
    let body = null;
    let bodyIsJson = false;
    if (rawBody) {
      try {
        body = JSON.parse(rawBody);
        bodyIsJson = true;
      } catch {
        body = rawBody;
      }
    }
    const entry = { method, path, query: queryObject(query), body, status: null };
    this.requests.push(entry);
    let result;
    try {
      result = this.answer({ method, path, query, headers, rawBody, body, bodyIsJson });
    } catch (err) {
      // A crash in a handler is the fake's bug; make it visible to the test.
      this.violation('fake_error', { method, path, message: String(err.stack || err) });
      result = { status: 500, body: { status: 500, error: 'Internal Server Error' } };
    }
    entry.status = result.status;
    return result;
  }

  answer({ method, path, query, headers, rawBody, body, bodyIsJson }) {
    const fault = this.takeFault(method, path);
    if (fault) {
      return {
        status: fault.status,
        body: fault.body ?? { status: fault.status, error: STATUS_CODES[fault.status] || 'Error' },
      };
    }
    const sub = path.slice(BASE_PATH.length) || '/';
    const { op, pathParams, pathMatched } = this.contract.match(method, sub);
    if (headers.authorization !== `Bearer ${this.apiKey}`) {
      return this.checked(op, method, path, { status: 401, body: { status: 401, error: 'Unauthorized' } });
    }
    if (!op) {
      const message = pathMatched ? `${method} is not an operation on ${sub} in the contract` : `${sub} is not a path in the contract`;
      this.violation('request', { method, path, details: [{ in: 'path', path: sub, message }] });
      return pathMatched
        ? { status: 405, body: { status: 405, error: 'Method Not Allowed' } }
        : { status: 404, body: { status: 404, error: 'Not Found', code: 'route_not_found' } };
    }
    const handler = HANDLERS[op.operationId];
    if (!handler) {
      // In the contract but not in this fake: make the test fail loudly.
      const message = `${op.operationId} (${op.method} ${op.template}) is not implemented by lago-fake`;
      this.violation('not_implemented', { method, path, operation: op.operationId, message });
      return { status: 501, body: { status: 501, error: 'Not Implemented', message } };
    }

    // Checked before the contract, so a payment integration the contract's
    // enum does not list (and so is a request violation too) is named here.
    if (op.operationId === 'createCustomer' && body?.customer && typeof body.customer === 'object') {
      const problems = mirrorOnlyProblems(body.customer);
      if (problems.length) {
        this.violation('mirror_only', {
          method, path, operation: op.operationId, external_id: body.customer.external_id,
          message: 'customers must not get a payment provider: Lago would charge them besides Stripe',
          details: problems,
        });
      }
    }
    if (rawBody && !bodyIsJson) {
      const details = [{ in: 'body', path: '', message: 'request body is not valid JSON' }];
      this.violation('request', { method, path, operation: op.operationId, details });
      return contractViolation(details);
    }
    const checked = this.contract.validateRequest(op, {
      pathParams, query, body, hasBody: Boolean(rawBody), contentType: headers['content-type'],
    });
    if (checked.details.length) {
      this.violation('request', { method, path, operation: op.operationId, details: checked.details });
      return contractViolation(checked.details);
    }

    const result = this.state[handler]({ path: checked.path, query: checked.query, body });
    return this.checked(op, method, path, result);
  }

  // Every answer of a contract operation is checked before it leaves; one
  // outside the contract is a bug in the fake, recorded as a violation.
  checked(op, method, path, result) {
    if (!op) return result;
    const details = this.contract.validateResponse(op, result.status, result.body);
    if (details.length) {
      this.violation('response', { method, path, operation: op.operationId, status: result.status, details });
    }
    return result;
  }

  addFault(input) {
    const problems = [];
    const method = input?.method ?? '*';
    if (typeof method !== 'string' || !(method === '*' || /^[A-Z]+$/.test(method))) problems.push('method must be "*" or an HTTP method in capitals');
    if (typeof input?.path_prefix !== 'string' || !input.path_prefix.startsWith('/')) problems.push('path_prefix must be a path starting with /');
    if (!Number.isInteger(input?.status) || input.status < 100 || input.status > 599) problems.push('status must be an HTTP status');
    if (input?.count != null && (!Number.isInteger(input.count) || input.count < 1)) problems.push('count must be a positive integer');
    if (problems.length) return { status: 400, body: { error: 'bad_fault', details: problems } };
    const fault = {
      method, path_prefix: input.path_prefix, status: input.status,
      count: input.count ?? null, remaining: input.count ?? null,
      ...(input.body !== undefined ? { body: input.body } : {}),
    };
    this.faults.push(fault);
    return { status: 201, body: fault };
  }
}

