// In-memory oidc-provider adapter (sessions, grants, codes, tokens). State is
// lost on restart, which is fine for a development identity provider. Each
// call makes a separate store, so several providers in one process (tests)
// never share state.
const now = () => Date.now();

export default function createMemoryAdapter() {
  const storage = new Map(); // key → { payload, expiresAt }
  const grantKeys = new Map(); // grantId → Set of keys
  const uidKeys = new Map(); // session uid → key
  const userCodeKeys = new Map(); // user code → key

  function get(key) {
    const entry = storage.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= now()) {
      storage.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  // Drop expired entries now and then so a long-running dev server stays small.
  const sweeper = setInterval(() => {
    const t = now();
    for (const [key, entry] of storage) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= t) storage.delete(key);
    }
  }, 60_000);
  sweeper.unref();

  return class MemoryAdapter {
    static stop() {
      clearInterval(sweeper);
      storage.clear();
    }

    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      storage.set(key, {
        payload: structuredClone(payload),
        expiresAt: expiresIn ? now() + expiresIn * 1000 : undefined,
      });
      if (payload.grantId) {
        if (!grantKeys.has(payload.grantId)) grantKeys.set(payload.grantId, new Set());
        grantKeys.get(payload.grantId).add(key);
      }
      if (this.model === 'Session' && payload.uid) uidKeys.set(payload.uid, key);
      if (payload.userCode) userCodeKeys.set(payload.userCode, key);
    }

    async find(id) {
      const payload = get(this.key(id));
      return payload ? structuredClone(payload) : undefined;
    }

    async findByUid(uid) {
      const key = uidKeys.get(uid);
      const payload = key ? get(key) : undefined;
      return payload ? structuredClone(payload) : undefined;
    }

    async findByUserCode(userCode) {
      const key = userCodeKeys.get(userCode);
      const payload = key ? get(key) : undefined;
      return payload ? structuredClone(payload) : undefined;
    }

    async consume(id) {
      const entry = storage.get(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(now() / 1000);
    }

    async destroy(id) {
      storage.delete(this.key(id));
    }

    // Revokes everything issued under a grant (codes, tokens), whichever
    // model it is called on.
    async revokeByGrantId(grantId) {
      const keys = grantKeys.get(grantId);
      if (!keys) return;
      for (const key of keys) storage.delete(key);
      grantKeys.delete(grantId);
    }
  };
}
