/**
 * Policies added to @azure/identity's HTTP pipeline for Kluis's own token requests to Entra:
 * - a per-attempt timeout (the pipeline's default is none: a token endpoint that accepts the
 *   connection and never answers would hold the request, and the user waiting on it, forever);
 * - a recorder of the last answer's status and Retry-After, which MSAL's errors do not carry.
 */
import type { TokenCredentialOptions } from '@azure/identity';
import type { EntraTokenResponse } from './entraErrors';

type AdditionalPolicy = NonNullable<TokenCredentialOptions['additionalPolicies']>[number];

/** Gives every attempt at most `ms` milliseconds (connection and answer together). */
export function attemptTimeout(ms: number): AdditionalPolicy {
  return {
    position: 'perRetry',
    policy: {
      name: 'kluisTokenAttemptTimeout',
      sendRequest(request, next) {
        request.timeout = ms;
        return next(request);
      },
    },
  };
}

/** Records the token endpoint's last answer; `last()` reads it after a failure. */
export function responseRecorder(): { policy: AdditionalPolicy; last(): EntraTokenResponse | undefined } {
  let last: EntraTokenResponse | undefined;
  return {
    last: () => last,
    policy: {
      position: 'perRetry',
      policy: {
        name: 'kluisRecordTokenResponse',
        async sendRequest(request, next) {
          // A request without an answer must not leave an earlier one's status (MSAL's metadata GET) behind.
          last = undefined;
          const response = await next(request);
          last = { status: response.status, retryAfter: response.headers.get('retry-after') ?? undefined };
          return response;
        },
      },
    },
  };
}
