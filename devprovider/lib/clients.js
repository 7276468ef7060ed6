// The redirect URIs registered for each application, matched exactly as Logto does:
// a `redirect_uri` or `post_logout_redirect_uri` that is not in the list is refused with a
// 400 and no redirect. The lists start from the settings and can grow at run time
// (POST /__dev__/clients/:id/redirect-uris), so that tests running Django on a random port
// register what they use.

export class RedirectRegistry {
  constructor() {
    this.clients = new Map(); // client id -> { redirectUris: Set, postLogoutRedirectUris: Set }
  }

  entry(clientId) {
    if (!this.clients.has(clientId)) {
      this.clients.set(clientId, { redirectUris: new Set(), postLogoutRedirectUris: new Set() });
    }
    return this.clients.get(clientId);
  }

  has(clientId) {
    return this.clients.has(clientId);
  }

  // Add URIs; throws (naming the URI) when one is not an absolute http(s) URI without fragment.
  register(clientId, { redirect_uris: redirectUris = [], post_logout_redirect_uris: postLogout = [] }) {
    for (const uri of [...redirectUris, ...postLogout]) assertRegistrable(uri);
    const entry = this.entry(clientId);
    for (const uri of redirectUris) entry.redirectUris.add(uri);
    for (const uri of postLogout) entry.postLogoutRedirectUris.add(uri);
    return this.describe(clientId);
  }

  describe(clientId) {
    const entry = this.entry(clientId);
    return {
      client_id: clientId,
      redirect_uris: [...entry.redirectUris],
      post_logout_redirect_uris: [...entry.postLogoutRedirectUris],
    };
  }

  redirectUriAllowed(clientId, uri) {
    return this.clients.get(clientId)?.redirectUris.has(uri) ?? false;
  }

  postLogoutRedirectUriAllowed(clientId, uri) {
    return this.clients.get(clientId)?.postLogoutRedirectUris.has(uri) ?? false;
  }

  // Origins of the registered redirect URIs (for CORS).
  originAllowed(clientId, origin) {
    const entry = this.clients.get(clientId);
    if (!entry) return false;
    return [...entry.redirectUris, ...entry.postLogoutRedirectUris]
      .some((uri) => new URL(uri).origin === origin);
  }

  // oidc-provider checks redirect URIs through these two Client methods; pointing them at
  // this registry makes registration at run time possible.
  install(provider) {
    const registry = this;
    const { prototype } = provider.Client;
    prototype.redirectUriAllowed = function registeredRedirectUri(value) {
      return registry.redirectUriAllowed(this.clientId, value);
    };
    prototype.postLogoutRedirectUriAllowed = function registeredPostLogoutRedirectUri(value) {
      return registry.postLogoutRedirectUriAllowed(this.clientId, value);
    };
  }
}

function assertRegistrable(uri) {
  if (typeof uri !== 'string') throw new TypeError(`not a URI: ${JSON.stringify(uri)}`);
  let url;
  try {
    url = new URL(uri);
  } catch {
    throw new TypeError(`not an absolute URI: ${JSON.stringify(uri)}`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.hash || url.username || url.password) {
    throw new TypeError(`not an http(s) URI without fragment or credentials: ${JSON.stringify(uri)}`);
  }
}
