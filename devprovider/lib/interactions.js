// The sign-in "experience": oidc-provider sends the browser to /interaction/:uid whenever it
// needs the user (login) or their consent. Login is a username/password form checked
// against the users file; consent is granted at once for everything requested, as Logto does
// for first-party applications.

import { errors } from 'oidc-provider';

import { errorPage, loginPage } from './pages.js';
import { OIDC_SCOPES, ORGANIZATIONS_RESOURCE } from './provider.js';

const INVALID_CREDENTIALS = 'Invalid username or password';
const SUSPENDED = 'This account is suspended.';
const OIDC_SCOPE_SET = new Set(OIDC_SCOPES);

function sendHtml(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

// Grant every requested scope the provider knows: OpenID scopes, and for each requested
// resource the requested scopes that resource defines. On Logto's organizations resource
// (urn:logto:resource:organizations), like Logto: the requested organization permissions the
// user holds now, in any organization. The grant is fixed from then on, so a permission a
// role gains later reaches tokens only after the next sign-in.
async function grantEverythingRequested(provider, interaction, accountId, { knownResources, organizationPermissionsOf }) {
  const { params } = interaction;
  let grant = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
  if (!grant || grant.accountId !== accountId) {
    grant = new provider.Grant({ accountId, clientId: params.client_id });
  }

  const requested = String(params.scope ?? '').split(' ').filter(Boolean);
  grant.addOIDCScope(requested.filter((scope) => OIDC_SCOPE_SET.has(scope)).join(' '));
  for (const resource of [].concat(params.resource ?? [])) {
    const defined = knownResources().get(resource) ?? [];
    const grantable = resource === ORGANIZATIONS_RESOURCE
      ? await organizationPermissionsOf(accountId)
      : defined;
    const scopes = requested.filter((scope) => grantable.includes(scope));
    if (scopes.length) grant.addResourceScope(resource, scopes.join(' '));
    // Consent is over for the others: oidc-provider would otherwise ask for them again.
    const refused = requested.filter((scope) => defined.includes(scope) && !scopes.includes(scope));
    if (refused.length) grant.rejectResourceScope(resource, refused.join(' '));
  }
  return grant.save();
}

// `knownResources()` answers the scopes each resource defines (read at every consent);
// `organizationPermissionsOf(accountId)` the organization permissions the user holds.
export function interactionHandlers({
  getProvider, users, knownResources, organizationPermissionsOf, readForm, log,
}) {
  const granting = { knownResources, organizationPermissionsOf };
  // The interaction is found through its cookie; the uid in the URL must be the same one
  // (otherwise another sign-in started in this browser since this page was shown).
  async function loadInteraction(req, res, uid) {
    const interaction = await getProvider().interactionDetails(req, res);
    if (interaction.uid !== uid) {
      throw new errors.SessionNotFound('interaction uid does not match the interaction cookie');
    }
    return interaction;
  }

  async function finishConsent(req, res, interaction) {
    const provider = getProvider();
    const grantId = await grantEverythingRequested(
      provider, interaction, interaction.session.accountId, granting,
    );
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  async function renderLogin(res, status, interaction, extra = {}) {
    sendHtml(res, status, loginPage({
      uid: interaction.uid,
      params: interaction.params,
      users: await users.all(),
      ...extra,
    }));
  }

  return {
    // GET /interaction/:uid
    async show(req, res, uid) {
      const interaction = await loadInteraction(req, res, uid);
      if (interaction.prompt.name === 'consent') {
        await finishConsent(req, res, interaction);
        return;
      }
      await renderLogin(res, 200, interaction);
    },

    // POST /interaction/:uid/login (username, password)
    async login(req, res, uid) {
      const interaction = await loadInteraction(req, res, uid);
      if (interaction.prompt.name === 'consent') {
        await finishConsent(req, res, interaction);
        return;
      }
      const form = await readForm(req);
      const username = form.get('username') ?? '';
      const user = await users.authenticate(username, form.get('password') ?? '');
      if (!user) {
        log(`sign-in refused for username ${JSON.stringify(username)}`);
        await renderLogin(res, 401, interaction, { error: INVALID_CREDENTIALS, username });
        return;
      }
      if (users.isSuspended(user)) {
        log(`sign-in refused for suspended user ${JSON.stringify(username)}`);
        await renderLogin(res, 401, interaction, { error: SUSPENDED, username });
        return;
      }

      // Login and consent in one step: the browser goes straight back to the client.
      const provider = getProvider();
      const grantId = await grantEverythingRequested(provider, interaction, user.id, granting);
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: user.id }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
    },

    // POST /interaction/:uid/abort: the user cancelled; the client gets error=access_denied.
    async abort(req, res, uid) {
      await loadInteraction(req, res, uid);
      await getProvider().interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'End-User aborted interaction',
      }, { mergeWithLastSubmission: false });
    },

    // Errors while handling any of the above.
    renderError(res, error) {
      if (error instanceof errors.SessionNotFound) {
        sendHtml(res, 400, errorPage(
          'Sign-in expired',
          'This sign-in request has expired or was already completed. Start again from the application.',
          { error: error.error_description },
        ));
        return;
      }
      log(`interaction failed: ${error.stack ?? error}`);
      sendHtml(res, 500, errorPage('Sign-in failed', 'The development provider failed to handle this sign-in.', {
        error: error.message,
      }));
    },
  };
}
