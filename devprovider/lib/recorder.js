// What the debug endpoints report: request counters, the TCP connections requests came on,
// the authorization requests received, the back-channel logout deliveries attempted and
// the webhooks sent. Tests and the benchmark read these to count
// provider round trips and to check what the client really sent.

// Paths with a per-request identifier are counted under one key.
const PATH_PATTERNS = [
  [/^\/oidc\/auth\/[^/]+$/, '/oidc/auth/:uid'],
  [/^\/interaction\/[^/]+$/, '/interaction/:uid'],
  [/^\/interaction\/[^/]+\/(login|abort)$/, '/interaction/:uid/$1'],
];

export function counterKeyFor(pathname) {
  for (const [pattern, key] of PATH_PATTERNS) {
    if (pattern.test(pathname)) return pathname.replace(pattern, key);
  }
  return pathname;
}

export class Recorder {
  constructor() {
    this.reset();
  }

  reset() {
    this.counters = {};
    // Per counter key, the distinct TCP connections its requests came on (keep-alive reuse).
    this.connections = {};
    this.keysBySocket = new WeakMap();
    this.authRequests = [];
    this.backchannelDeliveries = [];
    this.webhookDeliveries = [];
  }

  count(key) {
    this.counters[key] = (this.counters[key] ?? 0) + 1;
  }

  countConnection(key, socket) {
    let keys = this.keysBySocket.get(socket);
    if (keys === undefined) {
      keys = new Set();
      this.keysBySocket.set(socket, keys);
    }
    if (keys.has(key)) return;
    keys.add(key);
    this.connections[key] = (this.connections[key] ?? 0) + 1;
  }

  // Query parameters as an object; a repeated parameter (like `resource`) becomes a list.
  recordAuthRequest(searchParams) {
    const params = {};
    for (const name of new Set(searchParams.keys())) {
      const values = searchParams.getAll(name);
      params[name] = values.length === 1 ? values[0] : values;
    }
    this.authRequests.push(params);
  }

  recordBackchannelDelivery(delivery) {
    this.backchannelDeliveries.push(delivery);
  }

  recordWebhookDelivery(delivery) {
    this.webhookDeliveries.push(delivery);
  }
}
