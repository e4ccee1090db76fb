// The provider's RSA signing keys, persisted as a private JWK set in
// DATA_DIR/signing-keys.json. The first key signs; the others are only
// published in the JWKS (old keys kept after a rotation).
import { mkdirSync, readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, exportJWK, calculateJwkThumbprint } from 'jose';

const FILE = 'signing-keys.json';

export async function generateSigningKey() {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.kid = await calculateJwkThumbprint(jwk);
  jwk.alg = 'RS256';
  jwk.use = 'sig';
  return jwk;
}

export class KeyStoreFile {
  constructor(dataDir) {
    this.dataDir = dataDir;
    this.path = join(dataDir, FILE);
    this.keys = [];
  }

  async load() {
    mkdirSync(this.dataDir, { recursive: true });
    if (existsSync(this.path)) {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8'));
      if (!Array.isArray(parsed.keys) || parsed.keys.length === 0) {
        throw new Error(`${this.path}: no keys`);
      }
      this.keys = parsed.keys;
    } else {
      this.keys = [await generateSigningKey()];
      this.save();
    }
    return this.keys;
  }

  save() {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ keys: this.keys }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  get current() {
    return this.keys[0];
  }

  // New signing key first; the previous ones stay published unless keepOld is false.
  async rotate({ keepOld = true } = {}) {
    const fresh = await generateSigningKey();
    const previous = this.keys;
    this.keys = keepOld ? [fresh, ...previous] : [fresh];
    this.save();
    return { current: fresh, previous };
  }
}

export function publicJwk(jwk) {
  const { kty, kid, alg, use, n, e } = jwk;
  return { kid, kty, alg, use, n, e };
}
