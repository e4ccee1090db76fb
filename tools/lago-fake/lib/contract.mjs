// Lago's OpenAPI 3.1 document turned into request and response checks.
//
// The document is read and checked as OpenAPI 3.1 by @apidevtools/swagger-parser;
// schemas are checked by Ajv's JSON Schema 2020-12 validator, which is the
// schema dialect of OpenAPI 3.1. The whole document is registered with Ajv as
// one resource, so every `$ref` ("#/components/schemas/...") resolves inside it
// exactly as written, without a dereferenced copy.
import { existsSync } from 'node:fs';

import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const DOC_ID = 'lago-openapi';
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

// OpenAPI's own schema keywords (base vocabulary): annotations for validation.
// `nullable` is OpenAPI 3.0 and means nothing in 3.1; a few Lago schemas still
// carry it, and 3.1 ignores it, so we do too.
const ANNOTATIONS = ['example', 'discriminator', 'xml', 'externalDocs', 'nullable'];
// Formats the OpenAPI format registry defines for numbers and strings.
const OAS_FORMATS = {
  int32: { type: 'number', validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 },
  int64: { type: 'number', validate: (n) => Number.isInteger(n) },
  float: { type: 'number', validate: () => true },
  double: { type: 'number', validate: () => true },
  byte: /^[A-Za-z0-9+/]*={0,2}$/,
  binary: true,
  password: true,
};

const decodePointer = (p) => p.replace(/~1/g, '/').replace(/~0/g, '~');
const encodePointer = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

function resolvePointer(doc, ref) {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported, got ${ref}`);
  return ref.slice(2).split('/').map(decodePointer).reduce((node, key) => {
    if (node == null || !(key in node)) throw new Error(`unresolvable $ref ${ref}`);
    return node[key];
  }, doc);
}

// A `$ref` at a place that is not a schema (parameter, response, request body).
function deref(doc, node, pointer) {
  let seen = 0;
  while (node && node.$ref) {
    pointer = node.$ref.slice(1);
    node = resolvePointer(doc, node.$ref);
    if ((seen += 1) > 20) throw new Error(`$ref loop at ${pointer}`);
  }
  return { node, pointer };
}

function collectFormats(node, out = new Set()) {
  if (Array.isArray(node)) node.forEach((n) => collectFormats(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'format' && typeof v === 'string') out.add(v);
      else collectFormats(v, out);
    }
  }
  return out;
}

function newAjv(doc, { coerce, log }) {
  const ajv = new Ajv2020({
    allErrors: true,
    strict: true,
    strictTypes: false, // Lago's schemas mix `type` with applicators freely; that is legal 2020-12
    strictRequired: false,
    allowUnionTypes: true,
    coerceTypes: coerce ? 'array' : false, // query strings arrive as text
    discriminator: false, // annotation only; the oneOf/anyOf beside it does the checking
  });
  addFormats(ajv);
  ajv.removeKeyword('nullable'); // Ajv gives it 3.0 meaning by default
  for (const k of ANNOTATIONS) ajv.addKeyword({ keyword: k });
  for (const [name, format] of Object.entries(OAS_FORMATS)) ajv.addFormat(name, format);
  // JSON Schema 2020-12 makes `format` an annotation unless the format is
  // known; formats Lago invented (e.g. "object") stay annotations here.
  for (const f of collectFormats(doc.components)) {
    if (!ajv.formats[f]) {
      ajv.addFormat(f, true);
      if (log) log(`lago-fake: format "${f}" in the contract is not a known format; treated as an annotation`);
    }
  }
  // The root is not itself a schema: register only the parts that `$ref`s
  // point into, under keywords Ajv treats as plain containers.
  ajv.addKeyword({ keyword: 'paths' });
  ajv.addKeyword({ keyword: 'components' });
  ajv.addSchema({ $id: DOC_ID, paths: doc.paths, components: doc.components });
  return ajv;
}

const refTo = (pointer) => ({ $ref: `${DOC_ID}#${pointer}` });

function errorList(where, errors) {
  return (errors || []).map((e) => ({
    in: where,
    path: e.instancePath || '',
    message: e.message,
    keyword: e.keyword,
    params: e.params,
    schema_path: e.schemaPath,
  }));
}

export async function loadContract(file, { log } = {}) {
  if (!file || !existsSync(file)) {
    throw new Error(`contract file not found: ${file} (pass --contract PATH to Lago's openapi.yaml)`);
  }
  const doc = await SwaggerParser.parse(file);
  if (!String(doc.openapi || '').startsWith('3.1')) {
    throw new Error(`${file} is OpenAPI ${doc.openapi}, expected 3.1`);
  }
  // Structural check of the whole document against the OpenAPI 3.1 schema
  // (on a copy: validation dereferences in place).
  await SwaggerParser.validate(structuredClone(doc));
  return new Contract(doc, log);
}

export class Contract {
  constructor(doc, log) {
    this.doc = doc;
    this.version = doc.info?.version;
    this.ajv = newAjv(doc, { coerce: false, log });
    this.paramAjv = newAjv(doc, { coerce: true });
    this.operations = [];
    for (const [template, item] of Object.entries(doc.paths || {})) {
      for (const method of METHODS) {
        if (item[method]) this.operations.push(this.buildOperation(template, method, item));
      }
    }
  }

  buildOperation(template, method, item) {
    const base = `/paths/${encodePointer(template)}`;
    const op = item[method];
    const params = new Map();
    const add = (list, at) => (list || []).forEach((p, i) => {
      const { node, pointer } = deref(this.doc, p, `${at}/parameters/${i}`);
      params.set(`${node.in}:${node.name}`, { ...node, pointer });
    });
    add(item.parameters, base);
    add(op.parameters, `${base}/${method}`);
    const names = [];
    const regex = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_, n) => {
      names.push(n);
      return '([^/]+)';
    })}$`);
    return {
      template, method: method.toUpperCase(), operationId: op.operationId, regex, names,
      params: [...params.values()], requestBody: op.requestBody, pointer: `${base}/${method}`, op,
      validators: new Map(),
    };
  }

  // The operation for a path below the base path, or why there is none.
  match(method, path) {
    let pathMatched = false;
    for (const op of this.operations) {
      const m = op.regex.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (op.method !== method) continue;
      const pathParams = {};
      op.names.forEach((n, i) => {
        try {
          pathParams[n] = decodeURIComponent(m[i + 1]);
        } catch {
          pathParams[n] = m[i + 1]; // malformed %-escape: checked as sent
        }
      });
      return { op, pathParams };
    }
    return { op: null, pathMatched };
  }

  compile(op, key, build) {
    if (!op.validators.has(key)) op.validators.set(key, build());
    return op.validators.get(key);
  }

  paramValidator(op, where) {
    return this.compile(op, `params:${where}`, () => {
      const list = op.params.filter((p) => p.in === where);
      const schema = {
        type: 'object',
        properties: Object.fromEntries(list.map((p) => [p.name, refTo(`${p.pointer}/schema`)])),
        required: list.filter((p) => p.required).map((p) => p.name),
      };
      return { list, validate: this.paramAjv.compile(schema) };
    });
  }

  // Query values as OpenAPI's form style gives them: an array for array
  // parameters (`status[]=a&status[]=b`), a single value otherwise.
  static queryValues(list, query) {
    const out = {};
    for (const p of list) {
      const values = query.getAll(p.name);
      if (!values.length) continue;
      const isArray = [p.schema?.type].flat().includes('array');
      out[p.name] = isArray ? values : values[values.length - 1];
    }
    return out;
  }

  // Checks path, query and body of a request. Returns a list of problems
  // (empty when the request matches) and the decoded parameters.
  validateRequest(op, { pathParams, query, body, hasBody, contentType }) {
    const details = [];
    const path = { ...pathParams };
    const pv = this.paramValidator(op, 'path');
    if (!pv.validate(path)) details.push(...errorList('path', pv.validate.errors));
    const qv = this.paramValidator(op, 'query');
    const q = Contract.queryValues(qv.list, query);
    if (!qv.validate(q)) details.push(...errorList('query', qv.validate.errors));

    const rb = op.requestBody && deref(this.doc, op.requestBody, `${op.pointer}/requestBody`);
    if (!rb) {
      if (hasBody) details.push({ in: 'body', path: '', message: 'this operation takes no request body' });
    } else if (!hasBody) {
      if (rb.node.required) details.push({ in: 'body', path: '', message: 'request body is required' });
    } else if (!rb.node.content?.['application/json']) {
      details.push({ in: 'body', path: '', message: 'operation has no application/json body in the contract' });
    } else if (!/^application\/json\b/i.test(contentType || '')) {
      details.push({ in: 'header', path: 'content-type', message: `content-type must be application/json, got ${contentType || 'none'}` });
    } else {
      const validate = this.compile(op, 'body', () => this.ajv.compile(
        refTo(`${rb.pointer}/content/application~1json/schema`),
      ));
      if (!validate(body)) details.push(...errorList('body', validate.errors));
    }
    return { details, query: q, path };
  }

  // Checks a JSON response body against the documented response for the status.
  validateResponse(op, status, body) {
    const responses = op.op.responses || {};
    const key = responses[String(status)] ? String(status)
      : responses[`${String(status)[0]}XX`] ? `${String(status)[0]}XX`
        : responses.default ? 'default' : null;
    if (!key) {
      return [{ in: 'response', path: '', message: `status ${status} is not documented for ${op.operationId}` }];
    }
    const { node, pointer } = deref(this.doc, responses[key], `${op.pointer}/responses/${encodePointer(key)}`);
    if (!node.content) {
      return body === undefined ? [] : [{ in: 'response', path: '', message: `status ${status} has no body in the contract` }];
    }
    if (!node.content['application/json']) {
      return [{ in: 'response', path: '', message: `status ${status} has no application/json body in the contract` }];
    }
    const validate = this.compile(op, `response:${key}`, () => this.ajv.compile(
      refTo(`${pointer}/content/application~1json/schema`),
    ));
    return validate(body) ? [] : errorList('response', validate.errors);
  }
}
