/**
 * Entra token-endpoint failures, as @azure/identity and MSAL report them, mapped to the catalogue.
 * Shared by the On-Behalf-Of broker (a user's Graph token) and the app-only tokens (client
 * credentials):
 * - 429 and 5xx, or no answer -> 'identity_provider_unavailable' with Retry-After when Entra gave one;
 * - the user's assertion itself refused (AADSTS50013, 50027, 500133) -> 'unauthenticated';
 * - invalid_grant / interaction_required (consent missing, MFA or another Conditional Access
 *   policy) -> 'consent_required', carrying Entra's `claims` challenge when it sent one;
 * - invalid_client / unauthorized_client (secret expired or wrong) -> 'config_invalid';
 * - anything else -> 'internal'.
 * Details carry codes, status and correlation id only; the caller's `redact` removes its secrets.
 */
import { fail, KluisError } from '../errors';

/** The status and Retry-After of the token endpoint's last answer (MSAL's errors drop the header). */
export interface EntraTokenResponse {
  status: number;
  retryAfter?: string;
}

/** AADSTS codes that mean the user's own token (the assertion) was refused, not the consent. */
const ASSERTION_REJECTED = new Set(['50013', '50027', '500133']);
const CONSENT_OR_INTERACTION = new Set(['invalid_grant', 'interaction_required', 'consent_required', 'login_required']);
const PROVIDER_DOWN = new Set(['temporarily_unavailable', 'server_error', 'network_error', 'endpoints_resolution_error']);

/** Maps what @azure/identity and MSAL throw to the catalogue; see the module comment. `what` names the request, e.g. "On-Behalf-Of for tenant …". */
export function translateEntraError(error: unknown, what: string, lastResponse: EntraTokenResponse | undefined, redact: (text: string) => string): KluisError {
  // @azure/identity wraps MSAL's ServerError / InteractionRequiredAuthError as `cause` of an
  // AuthenticationRequiredError; discovery failures arrive as CredentialUnavailableError.
  const outer = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const inner = (typeof outer.cause === 'object' && outer.cause !== null ? outer.cause : outer) as Record<string, unknown>;
  const code = text(inner.errorCode);
  const subError = text(inner.subError);
  const errorNo = text(inner.errorNo);
  const correlationId = text(inner.correlationId);
  const claims = text(inner.claims);
  const status = lastResponse?.status ?? (typeof inner.status === 'number' ? inner.status : undefined);
  const name = text(outer.name);

  const summary = redact(
    [
      `${what} failed:`,
      code || name || 'unknown error',
      subError ? `suberror ${subError}` : '',
      errorNo ? `AADSTS${errorNo}` : '',
      status !== undefined ? `HTTP ${status}` : '',
      correlationId ? `correlation ${correlationId}` : '',
    ]
      .filter((part) => part !== '')
      .join(' '),
  );

  if (status === 429 || (status !== undefined && status >= 500) || PROVIDER_DOWN.has(code) || name === 'CredentialUnavailableError') {
    const retryAfterSeconds = parseRetryAfter(lastResponse?.retryAfter);
    return new KluisError('identity_provider_unavailable', summary, retryAfterSeconds === undefined ? undefined : { retryAfterSeconds });
  }
  if (code === 'invalid_grant' && ASSERTION_REJECTED.has(errorNo)) {
    return new KluisError('unauthenticated', summary);
  }
  if (CONSENT_OR_INTERACTION.has(code) || subError === 'consent_required') {
    return new KluisError('consent_required', summary, claims ? { claims } : undefined);
  }
  if (code === 'invalid_client' || code === 'unauthorized_client') {
    return new KluisError('config_invalid', summary);
  }
  return new KluisError('internal', summary);
}

/** Retry-After as seconds (RFC 9110 section 10.2.3: delay-seconds or an HTTP date), capped at an hour. */
function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  let seconds: number;
  if (/^\d+$/.test(trimmed)) seconds = Number(trimmed);
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    seconds = Math.ceil((at - Date.now()) / 1000);
  }
  return Math.min(Math.max(seconds, 1), 3600);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

/** The authority host as an https origin; MSAL refuses anything else. `who` prefixes the error. */
export function httpsAuthorityOrigin(host: string, who: string): string {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    return fail('config_invalid', `${who}: authority host is not a URL`);
  }
  if (url.protocol !== 'https:') fail('config_invalid', `${who}: authority host must use https`);
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') fail('config_invalid', `${who}: authority host must be an origin without a path`);
  return url.origin;
}
