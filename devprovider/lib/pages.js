// The HTML this provider shows to people: landing page, sign-in page, sign-out pages, errors.
// Plain server-rendered HTML with no external resources, so a test can drive every page
// over HTTP by parsing forms. Every interpolated value goes through escapeHtml.

const BANNER = 'Development provider — not for production';

export function escapeHtml(value) {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const STYLE = `
  body { font-family: system-ui, sans-serif; margin: 0; color: #1f2933; background: #f5f7fa; }
  .banner { background: #b91c1c; color: #fff; padding: 8px 16px; font-weight: 600; text-align: center; }
  main { max-width: 560px; margin: 32px auto; background: #fff; padding: 24px 32px;
         border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.15); }
  label { display: block; margin-top: 12px; font-weight: 600; }
  input[type=text], input[type=password] { width: 100%; padding: 8px; box-sizing: border-box; }
  button { margin-top: 16px; padding: 8px 20px; font-size: 1rem; cursor: pointer; }
  .error { color: #b91c1c; font-weight: 600; }
  .note { color: #52606d; font-size: .9rem; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e7eb; }
  code { background: #f0f4f8; padding: 1px 4px; }
`;

export function layout(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escapeHtml(title)}</title>
  <style>${STYLE}</style>
</head>
<body>
  <div class="banner" role="note">${escapeHtml(BANNER)}</div>
  <main>
${body}
  </main>
</body>
</html>`;
}

function demoUsersTable(users) {
  const rows = users.map((user) => `
      <tr>
        <td><code>${escapeHtml(user.username)}</code></td>
        <td><code class="password">${escapeHtml(user.password ?? '')}</code></td>
        <td>${escapeHtml(user.name ?? '(no name)')}</td>
        <td>${escapeHtml((user.roles ?? []).join(', ') || '—')}</td>
        <td>${escapeHtml((user.organizations ?? []).map((o) => `${o.name} (${(o.roles ?? []).join(', ')})`).join('; ') || '—')}</td>
      </tr>`).join('');
  return `<table>
      <thead><tr><th>Username</th><th>Password</th><th>Name</th><th>Roles</th><th>Organizations</th></tr></thead>
      <tbody>${rows}
      </tbody>
    </table>`;
}

const REGISTER_SCREENS = new Set(['register', 'identifier:register']);

// What the authorization request asked the sign-in experience to do, in Logto's terms.
function describeRequest(params) {
  const wantsRegistration = REGISTER_SCREENS.has(params.first_screen)
    || params.interaction_mode === 'signUp';
  const direct = typeof params.direct_sign_in === 'string' ? params.direct_sign_in : '';
  const [method, ...rest] = direct.split(':');
  const target = rest.join(':');
  let directSignIn;
  if (method === 'social' && target) directSignIn = `Continue with ${target} (simulated)`;
  else if (method === 'sso' && target) directSignIn = `Continue with single sign-on ${target} (simulated)`;
  return { wantsRegistration, directSignIn };
}

export function loginPage({ uid, params, users, error, username }) {
  const { wantsRegistration, directSignIn } = describeRequest(params);
  const heading = wantsRegistration ? 'Create your account' : 'Sign in';
  const registrationNote = wantsRegistration
    ? `<p class="note">This development provider cannot register new accounts: sign in as one of
      the demo users below (they are read from the users file).</p>`
    : '';
  const directNote = directSignIn
    ? `<p><strong>${escapeHtml(directSignIn)}</strong></p>
    <p class="note">No external identity provider is contacted: sign in as a demo user instead.</p>`
    : '';
  const errorNote = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '';
  const prefill = username ?? params.login_hint ?? params.identifier ?? '';

  const asked = [
    ['Application', params.client_id],
    ['Scopes', params.scope],
    ['Resources', [].concat(params.resource ?? []).join(' ')],
    ['First screen', params.first_screen],
    ['Interaction mode', params.interaction_mode],
    ['Direct sign-in', params.direct_sign_in],
    ['Organization', params.organization_id],
    ['UI locales', params.ui_locales],
  ].filter(([, value]) => value)
    .map(([label, value]) => `<tr><th>${escapeHtml(label)}</th><td><code>${escapeHtml(value)}</code></td></tr>`)
    .join('\n      ');

  return layout(heading, `
    <h1>${escapeHtml(heading)}</h1>
    ${directNote}
    ${registrationNote}
    ${errorNote}
    <form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
      <label for="username">Username</label>
      <input type="text" id="username" name="username" value="${escapeHtml(prefill)}" autofocus required>
      <label for="password">Password</label>
      <input type="password" id="password" name="password" required>
      <button type="submit">Sign in</button>
    </form>
    <form method="post" action="/interaction/${escapeHtml(uid)}/abort">
      <button type="submit">Cancel</button>
    </form>
    <h2>Demo users</h2>
    ${demoUsersTable(users)}
    <p class="note">These are demo accounts: their passwords are no secret.</p>
    <h2>This request</h2>
    <table>
      ${asked}
    </table>`);
}

export function landingPage({ issuer, clientId, users }) {
  return layout('Logto dev provider', `
    <h1>Logto dev provider</h1>
    <p>A Logto-compatible OpenID provider for <strong>local development and tests only</strong>.
      It keeps everything in memory and signs tokens with a key generated at start.</p>
    <table>
      <tr><th>Issuer</th><td><code>${escapeHtml(issuer)}</code></td></tr>
      <tr><th>Discovery</th><td><code>${escapeHtml(`${issuer}/.well-known/openid-configuration`)}</code></td></tr>
      <tr><th>Application (client) id</th><td><code>${escapeHtml(clientId)}</code></td></tr>
    </table>
    <h2>Demo users</h2>
    ${demoUsersTable(users)}
    <p class="note">Debug endpoints: <code>/__dev__/health</code>, <code>/__dev__/counters</code>,
      <code>/__dev__/auth-requests</code>, <code>/__dev__/backchannel</code>,
      <code>POST /__dev__/reset</code>, <code>POST /__dev__/rotate-keys</code>.</p>`);
}

// The RP-initiated logout confirmation. Like Logto's, it submits itself at once; the hidden
// `logout=yes` ends the whole provider session (not just this client's part of it), and the
// visible button lets clients without JavaScript (tests over plain HTTP) post the same form.
export function logoutPage(form) {
  const controls = '<input type="hidden" name="logout" value="yes"/>\n      <button type="submit">Sign out</button>';
  const completedForm = form.includes('</form>')
    ? form.replace('</form>', `      ${controls}\n    </form>`)
    : `${form}${controls}`;
  return layout('Signing out', `
    <h1>Signing out…</h1>
    ${completedForm}
    <script>document.getElementById('op.logoutForm').submit();</script>`);
}

export function signedOutPage() {
  return layout('Signed out', `
    <h1>Signed out</h1>
    <p>You have been signed out of the development provider.</p>`);
}

export function errorPage(title, message, details = {}) {
  const rows = Object.entries(details)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td><code>${escapeHtml(value)}</code></td></tr>`)
    .join('\n      ');
  return layout(title, `
    <h1>${escapeHtml(title)}</h1>
    <p>${escapeHtml(message)}</p>
    ${rows ? `<table>\n      ${rows}\n    </table>` : ''}`);
}
