// Imported first by server.js, before oidc-provider evaluates: it drops the one warning
// oidc-provider prints on Node.js 20 ("Unsupported runtime. Use Node.js v22.x LTS…"). The
// dev provider's own tests pass on Node 20 and 22; for a development tool the warning
// only alarms whoever starts the demo. Node 22 LTS is what the README recommends.
// DEV_PROVIDER_VERBOSE=1 keeps every oidc-provider warning and notice.

const UNSUPPORTED_RUNTIME = 'Unsupported runtime.';

if (!['1', 'true', 'yes'].includes((process.env.DEV_PROVIDER_VERBOSE ?? '').toLowerCase())) {
  const warn = console.warn.bind(console);
  console.warn = (...args) => {
    if (typeof args[0] === 'string' && args[0].includes(UNSUPPORTED_RUNTIME)) return;
    warn(...args);
  };
}
