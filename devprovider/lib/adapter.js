// In-memory storage for oidc-provider (sessions, interactions, grants, codes, tokens).
//
// oidc-provider ships a memory adapter too, but it keeps only the 1000 most recently used
// entries (a benchmark doing many sign-ins would silently lose sessions and grants) and it
// is not part of the package's public API. This one has no size limit, drops entries once
// they expire, and lives outside any Provider instance, so the provider can be rebuilt (key
// rotation) without signing anybody out.

// Models whose entries are bound to a grant: revoking the grant removes them all.
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

// Keep entries a little past their expiry: oidc-provider checks expiry itself (with clock
// tolerance) and reports "expired" more helpfully than "not found".
const GRACE_MS = 60_000;

export function createMemoryAdapter() {
  const entries = new Map(); // "Model:id" -> { payload, expiresAt }
  const grantMembers = new Map(); // grantId -> Set of "Model:id"
  const sessionIdsByUid = new Map();
  const idsByUserCode = new Map();

  const now = () => Date.now();

  function read(key) {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  function sweep() {
    const time = now();
    for (const [key, entry] of entries) {
      if (entry.expiresAt <= time) entries.delete(key);
    }
    for (const [grantId, members] of grantMembers) {
      for (const key of members) if (!entries.has(key)) members.delete(key);
      if (members.size === 0) grantMembers.delete(grantId);
    }
    for (const index of [sessionIdsByUid, idsByUserCode]) {
      for (const [secondary, key] of index) if (!entries.has(key)) index.delete(secondary);
    }
  }

  const sweeper = setInterval(sweep, 60_000);
  sweeper.unref();

  class MemoryAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const expiresAt = typeof expiresIn === 'number' ? now() + expiresIn * 1000 + GRACE_MS : Infinity;
      entries.set(key, { payload: structuredClone(payload), expiresAt });

      if (this.model === 'Session' && payload.uid) sessionIdsByUid.set(payload.uid, key);
      if (payload.userCode) idsByUserCode.set(payload.userCode, key);
      if (GRANTABLE.has(this.model) && payload.grantId) {
        if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
        grantMembers.get(payload.grantId).add(key);
      }
    }

    async find(id) {
      const entry = read(this.key(id));
      // A copy, so that changes a caller makes are only stored through upsert/consume.
      return entry ? structuredClone(entry.payload) : undefined;
    }

    async findByUid(uid) {
      const key = sessionIdsByUid.get(uid);
      const entry = key && read(key);
      return entry ? structuredClone(entry.payload) : undefined;
    }

    async findByUserCode(userCode) {
      const key = idsByUserCode.get(userCode);
      const entry = key && read(key);
      return entry ? structuredClone(entry.payload) : undefined;
    }

    async consume(id) {
      const entry = read(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(now() / 1000);
    }

    async destroy(id) {
      entries.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
      for (const key of grantMembers.get(grantId) ?? []) entries.delete(key);
      grantMembers.delete(grantId);
    }
  }

  return MemoryAdapter;
}
