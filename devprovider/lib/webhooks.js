// Logto's webhooks: a JSON body POSTed to the hook's URL, signed with the hook's signing key
// (header `logto-signature-sha-256`: hex HMAC-SHA256 of the raw body), user agent
// "Logto (https://logto.io/)", a 10 s timeout. The body is shaped like
// shared/logto-samples/webhook_user_created.json: `event`, `createdAt` (ISO 8601), what the
// event carries (for a Management API call: `ip`, `userAgent`, `path`, `method`, `status`,
// `params`, `matchedRoute`, then `data` and event-specific members), and `hookId` last.
//
// Every delivery is recorded (GET /__dev__/webhooks), delivered or not, like back-channel
// logouts: tests read the raw body and signature and may post them to the site themselves.
// Differences from Logto: one attempt (Logto retries a failed delivery up to 3 times), and
// the caller waits for the delivery (Logto sends in the background).

import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'logto-signature-sha-256';
export const USER_AGENT = 'Logto (https://logto.io/)';
const TIMEOUT_MS = 10_000;

export function sign(rawBody, signingKey) {
  return createHmac('sha256', signingKey).update(rawBody).digest('hex');
}

// The context Logto adds to an event caused by a Management API request.
export function managementContext(req, { method, route, path, status, params = {} }) {
  return {
    ip: req?.socket?.remoteAddress?.replace(/^::ffff:/, '') ?? null,
    userAgent: req?.headers?.['user-agent'] ?? null,
    path,
    method,
    status,
    params,
    matchedRoute: route,
  };
}

export class Webhooks {
  // `url` empty: no hook configured; events are still recorded, with an error saying so.
  constructor({ url, signingKey, hookId, recorder, log }) {
    this.url = url;
    this.signingKey = signingKey;
    this.hookId = hookId;
    this.recorder = recorder;
    this.log = log;
  }

  // Send one event; `fields` are the body's members between `createdAt` and `hookId`.
  // Resolves to the recorded delivery.
  async emit(event, fields = {}) {
    const body = { event, createdAt: new Date().toISOString() };
    for (const [name, value] of Object.entries(fields)) {
      if (value !== undefined && !['event', 'createdAt', 'hookId'].includes(name)) body[name] = value;
    }
    body.hookId = this.hookId;
    const rawBody = JSON.stringify(body);
    const signature = sign(rawBody, this.signingKey);
    const delivery = {
      at: new Date().toISOString(),
      target: this.url || null,
      event,
      hook_id: this.hookId,
      body: rawBody,
      signature,
    };
    if (!this.url) {
      delivery.error = 'not delivered: DEV_PROVIDER_WEBHOOK_URL is empty';
    } else {
      try {
        const response = await fetch(this.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': USER_AGENT,
            [SIGNATURE_HEADER]: signature,
          },
          body: rawBody,
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        delivery.status = response.status;
        // Drain the answer so that the connection can be reused.
        await response.arrayBuffer().catch(() => undefined);
      } catch (error) {
        delivery.error = error.cause?.message ? `${error.message}: ${error.cause.message}` : error.message;
      }
    }
    this.recorder.recordWebhookDelivery(delivery);
    this.log(`webhook ${event} to ${delivery.target ?? '(no URL)'}: ${delivery.status ?? delivery.error}`);
    return delivery;
  }
}
