// Logto's shape for OpenID errors: beside `error` and `error_description` its JSON bodies
// carry `code` ("oidc.<error>") and `message`, and `error_uri` for invalid_grant. Errors
// that cannot go back to the client by redirect are such a JSON body with status 400 (or
// the error's own status), never an HTML page.

// Logto links invalid_grant to a page explaining the error; the value here is only a
// stand-in of the same shape.
const ERROR_URIS = {
  invalid_grant: 'https://openid.sh/debug/invalid_grant',
};

const CODES = {
  session_not_found: 'session.not_found',
};

export function logtoErrorBody(out) {
  const body = { ...out };
  delete body.iss;
  delete body.state;
  body.code = CODES[out.error] ?? `oidc.${out.error}`;
  body.message = out.error_description ?? out.error;
  if (ERROR_URIS[out.error] && !body.error_uri) body.error_uri = ERROR_URIS[out.error];
  return body;
}

// oidc-provider's renderError: what it would show as an HTML page.
export async function renderJsonError(ctx, out) {
  ctx.type = 'json';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = logtoErrorBody(out);
}

// Middleware: JSON error bodies of every endpoint get Logto's extra members.
export async function logtoErrorShape(ctx, next) {
  await next();
  const { body } = ctx;
  if (ctx.status >= 400 && body && typeof body === 'object' && !Buffer.isBuffer(body)
    && typeof body.error === 'string' && !body.code) {
    ctx.body = logtoErrorBody(body);
  }
}
