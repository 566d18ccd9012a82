// SPDX-License-Identifier: Apache-2.0
// errors.js: what went wrong, in plain words (docs/api.md, "Errors").

const FIELDS = ['mask', 'referenceImages', 'prompt', 'customPrompt', 'preset', 'sourceImage', 'style', 'quality',
  'aspectRatio', 'parameters.seed', 'parameters'];

/** The create field a 400 message names ("parameters.seed must be …"), or null. */
export function fieldOf(message) {
  if (!message) return null;
  for (const f of FIELDS) {
    if (new RegExp(`(^|[^A-Za-z.])${f.replace('.', '\\.')}($|[^A-Za-z])`).test(message)) return f;
  }
  return null;
}

export function seconds(n) {
  if (n == null) return 'a few seconds';
  return n === 1 ? '1 second' : `${n} seconds`;
}

function credits(n) {
  return n === 1 ? '1 credit' : `${n} credits`;
}

function localTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return 'midnight UTC';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/**
 * The sentence for an ApiError. ctx: {cost, quota, action}; quota is the
 * answer of GET /api/quota read after a 402 (or null).
 */
export function describe(err, ctx = {}) {
  const msg = err.message || '';
  switch (err.status) {
    case 0:
      return 'The server could not be reached. Check your connection and try again.';
    case 400:
      if (err.code === 'CONTENT_POLICY') {
        return 'This prompt is not allowed on this site. Change the prompt and try again; nothing was charged.';
      }
      return `Please check the form: ${msg}.`.replace(/\.\.$/, '.');
    case 401:
      return 'You are not signed in, or the user name or password was wrong. Reload the page to sign in.';
    case 402: {
      const q = ctx.quota;
      const cost = ctx.cost;
      if (q && cost != null && q.currentBalance >= cost && q.daily_limit > 0) {
        return `You have reached today\u2019s limit: ${credits(q.daily_used)} of your daily ` +
          `${credits(q.daily_limit)} are used, and this costs ${credits(cost)}. ` +
          `The limit resets at ${localTime(q.dailyReset)}.`;
      }
      if (q && cost != null) {
        return `Not enough credits: this generation costs ${credits(cost)} and your balance ` +
          `is ${credits(q.currentBalance)}. Ask the site\u2019s administrator for more credits.`;
      }
      if (/daily limit/.test(msg)) {
        return `You have reached today\u2019s limit (${msg}). It resets at midnight UTC.`;
      }
      return `Not enough credits: ${msg}.`;
    }
    case 403:
      return 'You are not allowed to do this.';
    case 404:
      if (err.code === 'GENERATION_NOT_FOUND') return 'That generation does not exist (any more).';
      return 'This is not available on the server.';
    case 409:
      return `That is not possible now: ${msg}.`;
    case 413:
      return ctx.action === 'upload'
        ? 'That picture is too large for the server. Try a smaller one.'
        : 'The request is too large for the server.';
    case 415:
      return ctx.action === 'upload'
        ? 'That file is not a picture the server accepts: use PNG, JPEG or WebP.'
        : `The server refused the request: ${msg}.`;
    case 422:
      return 'That request was already sent with other contents. Try again.';
    case 429:
      return `Too many generations are running at once. Try again in ${seconds(err.retryAfter)}.`;
    case 503:
      return `The service is unavailable for a moment. Try again in ${seconds(err.retryAfter)}.`;
    default:
      return `Something went wrong on the server (${err.status}${msg ? `: ${msg}` : ''}).`;
  }
}

/** A failed generation's error.code in plain words. */
export function describeJob(error) {
  if (!error) return '';
  const refunded = ' Your credits were given back.';
  switch (error.code) {
    case 'CANCELLED': return 'Cancelled.' + refunded;
    case 'TIMEOUT': return 'The picture took too long to make.' + refunded;
    case 'EXPIRED': return 'The generation was never started and expired.' + refunded;
    case 'QUEUE_TIMEOUT': return 'Too many pictures were waiting for the image service; this one was not started in time.' + refunded;
    case 'CONTENT_FILTERED': return 'The image service refused this prompt (content filter).' + refunded;
    case 'MAX_RETRIES_EXCEEDED': return 'The image service kept failing, even after retries.' + refunded;
    case 'STORAGE_ERROR': return 'The picture was made but could not be stored.' + refunded;
    case 'PROVIDER_CREDITS':
    case 'PROVIDER_AUTH': return 'The image service is not available to this site right now.' + refunded;
    default: return `The image service could not make this picture${error.message ? ` (${error.message})` : ''}.` + refunded;
  }
}
