// Helpers for tests that start their own dev provider (child process on port 0) and drive it
// over HTTP the way a browser and the Django app would.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SERVER = path.join(HERE, '..', 'server.js');
export const APP_ID = 'django-demo';
export const APP_SECRET = 'django-demo-secret';

export const b64url = (buffer) => Buffer.from(buffer).toString('base64url');

export function pkce() {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
}

export function decodeJwt(jwt) {
  const [header, payload, signature] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url')),
    payload: JSON.parse(Buffer.from(payload, 'base64url')),
    signingInput: `${header}.${payload}`,
    signature: Buffer.from(signature, 'base64url'),
  };
}

// A dev provider process with `env` on top of the current environment.
export async function startProvider(env = {}) {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, DEV_PROVIDER_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = [];
  child.stderr.on('data', (chunk) => stderr.push(chunk));
  const [origin, issuer] = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /^Logto dev provider listening on (http:\/\/\S+) \(issuer (\S+)\)$/m.exec(out);
      if (match) resolve([match[1], match[2]]);
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${Buffer.concat(stderr)}`)));
  });
  return new ProviderClient(child, origin, issuer);
}

// A browser: keeps cookies (ignoring paths) and follows redirects within the provider.
export class Browser {
  constructor(origin) {
    this.origin = origin;
    this.cookies = new Map();
  }

  async request(url, { method = 'GET', form } = {}) {
    const headers = {};
    if (this.cookies.size) {
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const response = await fetch(new URL(url, this.origin), { method, headers, body, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair, ...attributes] = cookie.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = attributes.some((attribute) => /^\s*expires=Thu, 01 Jan 1970/i.test(attribute))
        || attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    response.text_ = await response.text();
    return response;
  }

  async follow(url, options) {
    let response = await this.request(url, options);
    for (let hops = 0; hops < 10; hops += 1) {
      const location = response.headers.get('location');
      if (![302, 303].includes(response.status) || !location) return response;
      const next = new URL(location, this.origin);
      if (next.origin !== this.origin) return response;
      response = await this.request(next);
    }
    throw new Error('too many redirects');
  }
}

export class ProviderClient {
  constructor(child, origin, issuer) {
    this.child = child;
    this.origin = origin;
    this.issuer = issuer;
  }

  async stop() {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => { this.child.on('exit', resolve); });
    this.child.kill('SIGTERM');
    await exited;
  }

  async json(pathname, { method = 'GET', body } = {}) {
    const response = await fetch(`${this.origin}${pathname}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: await response.json() };
  }

  authorizationUrl(params) {
    const url = new URL(`${this.issuer}/auth`);
    for (const [name, value] of Object.entries(params)) {
      for (const item of [].concat(value)) if (item != null) url.searchParams.append(name, item);
    }
    return url;
  }

  // Run an authorization request to the end (signing in on the login page); returns the
  // code and what the exchange needs. `usePkce: false` leaves PKCE out.
  async authorize({
    browser = new Browser(this.origin),
    username = 'alice',
    scope = 'openid offline_access profile roles urn:logto:scope:organizations read:profile write:profile read:org',
    resource = [],
    redirectUri = 'http://127.0.0.1:8000/logto/callback/',
    usePkce = true,
  } = {}) {
    const { verifier, challenge } = pkce();
    let response = await browser.follow(this.authorizationUrl({
      client_id: APP_ID,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope,
      resource,
      prompt: 'consent',
      state: 'st',
      ...(usePkce ? { code_challenge: challenge, code_challenge_method: 'S256' } : {}),
    }));
    if (response.status === 200 && response.text_.includes('name="password"')) {
      const action = /<form method="post" action="([^"]+\/login)"/.exec(response.text_)[1];
      response = await browser.follow(action, {
        method: 'POST', form: { username, password: `${username}-password` },
      });
    }
    return {
      response,
      browser,
      redirectUri,
      verifier: usePkce ? verifier : undefined,
      code: response.status === 303 ? new URL(response.headers.get('location')).searchParams.get('code') : undefined,
    };
  }

  async token(form) {
    const body = new URLSearchParams({ ...form, client_id: APP_ID, client_secret: APP_SECRET });
    for (const [name, value] of Object.entries(form)) {
      if (Array.isArray(value)) {
        body.delete(name);
        for (const item of value) body.append(name, item);
      }
    }
    const response = await fetch(`${this.issuer}/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body,
    });
    return { status: response.status, body: await response.json() };
  }

  // Sign in and exchange the code; returns the token response body (and the browser).
  async signIn(options = {}) {
    const { code, verifier, redirectUri, response, browser } = await this.authorize(options);
    assert.equal(response.status, 303, response.text_.slice(0, 300));
    const tokens = await this.token({
      grant_type: 'authorization_code', code, redirect_uri: redirectUri,
      ...(verifier ? { code_verifier: verifier } : {}),
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    return { ...tokens.body, browser };
  }

  refresh(refreshToken, extra = {}) {
    return this.token({ grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
  }

  async userinfo(accessToken) {
    const response = await fetch(`${this.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    return { status: response.status, body: await response.json() };
  }

  // Verify an ES384 JWS against the current JWKS; returns the payload.
  async verify(jwt) {
    const token = decodeJwt(jwt);
    assert.equal(token.header.alg, 'ES384');
    const { keys } = (await this.json('/oidc/jwks')).body;
    const jwk = keys.find((key) => key.kid === token.header.kid);
    assert.ok(jwk, 'kid is in the JWKS');
    assert.ok(verify(
      'sha384',
      Buffer.from(token.signingInput),
      { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
      token.signature,
    ), 'signature verifies');
    return token.payload;
  }
}
