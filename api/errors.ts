/**
 * The one catalogue of errors Kluis raises on purpose.
 *
 * Each error has a stable id (for logs, support and tests) and an HTTP status. Callers outside
 * Kluis only ever see `publicMessage`; `detail` goes to the log. Code outside this file raises
 * errors with `fail(id, detail)` instead of `new Error(...)`.
 */
export const errorCatalogue = {
  config_invalid: { status: 500, message: 'Kluis is not configured correctly.' },
  request_malformed: { status: 400, message: 'The request is malformed.' },
  request_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'The request body must be JSON.' },
  activity_invalid: { status: 400, message: 'The activity is missing required fields.' },
  activity_type_unsupported: { status: 400, message: 'This activity type is not supported.' },
  unauthenticated: { status: 401, message: 'Authentication is required.' },
  identity_provider_unavailable: { status: 503, message: 'Sign-in cannot be checked right now. Please try again shortly.' },
  // 401, as "Claims challenges, claims requests and client capabilities" asks of a web API whose
  // downstream call needs the user again: the client re-runs sign-in with consent (and the claims, if any).
  consent_required: { status: 401, message: 'Kluis needs your permission to read your files. Please sign in again and accept the permission prompt.' },
  session_expired: { status: 401, message: 'Your session has ended. Please sign in again.' },
  too_many_attempts: { status: 429, message: 'Too many attempts. Please wait before trying again.' },
  login_failed: { status: 401, message: 'The email address or password is not correct.' },
  credentials_login_disabled: { status: 403, message: 'This organisation only allows Microsoft sign-in.' },
  invitation_invalid: { status: 400, message: 'This invitation is not valid (unknown, used or expired).' },
  reset_token_invalid: { status: 400, message: 'This reset link is not valid (unknown, used or expired).' },
  second_factor_required: { status: 401, message: 'Enter the code from your authenticator app.' },
  service_url_not_allowed: { status: 403, message: 'This channel endpoint is not allowed.' },
  source_exists: { status: 409, message: 'This drive is already a knowledge source of this workspace.' },
  tenant_not_onboarded: { status: 403, message: 'This organisation is not connected to Kluis.' },
  forbidden: { status: 403, message: 'You may not do this.' },
  not_found: { status: 404, message: 'Not found.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed here.' },
  tenant_scope_missing: { status: 500, message: 'Internal error.' },
  // An audit event for a workspace that does not (or no longer) exist: nothing to chain it to.
  audit_chain_unavailable: { status: 500, message: 'Internal error.' },
  provider_unavailable: { status: 503, message: 'The language model is unavailable right now. Please try again shortly.' },
  provider_rejected: { status: 502, message: 'The language model refused the request.' },
  // 401/403 from a provider: the configured key is wrong, revoked or lacks access. Not retried, no fallback.
  provider_auth_failed: { status: 502, message: 'The language model did not accept Kluis\'s credentials. An administrator needs to check its key.' },
  // A stream that breaks off, or events that are not the provider's documented format.
  provider_stream_invalid: { status: 502, message: 'The language model sent an answer that could not be read. Please try again.' },
  // The image provider's content filter declined the prompt or the result.
  image_filtered: { status: 422, message: 'The image was not generated because the request was declined by the content filter.' },
  // No image provider is configured (no Stability key): the /image command is off.
  images_not_configured: { status: 503, message: 'Image generation is not enabled for this organisation.' },
  // No provider of the workspace's routing policy has a key, or the policy names none that exist.
  provider_not_configured: { status: 503, message: 'No language model is available for this workspace.' },
  // The workspace's monthly budget for paid language models is used up; the call never left Kluis.
  // Channels that speak Dutch show BUDGET_EXHAUSTED_TEXT (api/assistant/usage.ts) instead.
  // Assistant turns per user or per workspace per minute (TURNS_PER_*_PER_MINUTE), counted across replicas.
  turn_rate_limited: { status: 429, message: 'You are asking faster than Kluis allows. Please wait a moment and try again.' },
  budget_exhausted: { status: 429, message: "This month's budget for the assistant is used up. Ask an administrator of your organisation to raise it, or try again next month." },
  // The embedding model answered, but not with one vector of the configured size per text.
  embedding_invalid: { status: 502, message: 'The embedding service returned an unusable answer.' },
  // The embedding service is down, throttling past the SDK's retries, or unreachable.
  embedding_unavailable: { status: 503, message: 'The embedding service is unavailable right now. Please try again shortly.' },
  // The embedding service refused the request (key, deployment, model or input).
  embedding_rejected: { status: 502, message: 'The embedding service refused the request.' },
  // This replica is shutting down (SIGTERM): /readyz says so, so the load balancer sends turns elsewhere.
  shutting_down: { status: 503, message: 'Kluis is restarting. Please try again in a moment.' },
  store_unavailable: { status: 503, message: 'A data store is unavailable.' },
  // Azure Key Vault (the key-encryption key of the data keys) throttled past the retries, down or unreachable.
  key_vault_unavailable: { status: 503, message: 'Your data cannot be opened right now: the key service is briefly unavailable. Please try again shortly.' },
  mail_unavailable: { status: 503, message: 'Email cannot be sent right now. Please try again shortly.' },
  extraction_failed: { status: 422, message: 'The document could not be read.' },
  database_setup_failed: { status: 500, message: 'The database could not be prepared.' },
  migration_failed: { status: 500, message: 'A database migration failed.' },
  internal: { status: 500, message: 'Internal error.' },
  password_rejected: { status: 400, message: 'This password cannot be used. Please choose another.' },
  ciphertext_invalid: { status: 500, message: 'Internal error.' },
  // The workspace's data key was destroyed (crypto-shredding): what it sealed is gone for good.
  // A workspace erasure needs the workspace's exact name typed as confirmation; nothing was deleted.
  erasure_confirmation_mismatch: { status: 422, message: 'The name you typed is not the name of this workspace. Nothing was deleted.' },
  data_key_destroyed: { status: 410, message: 'This data has been erased.' },
  // Microsoft Graph (SharePoint and OneDrive sources) throttled or down past the retry budget, or unreachable.
  graph_unavailable: { status: 503, message: 'Microsoft 365 cannot be reached right now. Please try again shortly.' },
  // The signed-in account (or app) may not read the drive or item (403).
  graph_access_denied: { status: 403, message: 'Kluis may not read these files in Microsoft 365.' },
  // Graph refused the token itself (401: expired, revoked, or none): it concerns every file, not one,
  // so a sync stops as interrupted and resumes on its next run instead of dropping files.
  graph_unauthenticated: { status: 401, message: 'Microsoft 365 did not accept the sign-in. Please sign in again.' },
  // Any other refusal, or an answer that is not what the documented wire format promises.
  graph_rejected: { status: 502, message: 'Microsoft 365 refused the request.' },
  // A source file larger than the configured download limit; it is skipped, never partly indexed.
  file_too_large: { status: 413, message: 'The file is too large to index.' },
  // Uploads: a file over UPLOAD_MAX_FILE_MB; nothing of it is kept.
  upload_too_large: { status: 413, message: 'The file is larger than the upload limit.' },
  upload_type_unsupported: { status: 415, message: 'This kind of file cannot be uploaded.' },
  // The extension names one format, the first bytes another (a renamed executable, a mislabelled file).
  upload_type_mismatch: { status: 415, message: "The file's content does not match its extension." },
  upload_malformed: { status: 400, message: 'The upload must be multipart/form-data with exactly one file and a valid file name.' },
  // A download link that was altered, belongs to someone else or another workspace, or is not a link at all.
  download_link_invalid: { status: 403, message: 'This download link is not valid for you.' },
  download_link_expired: { status: 410, message: 'This download link has expired. Please ask for a new one.' },
  /** A routing policy names a provider this server has no key for (the response lists which). */
  routing_provider_unavailable: { status: 422, message: 'The routing policy names a provider that has no key on this server. Remove it, or ask the operator to configure its key.' },
  // A data export that is still being built (or failed): there is no archive to download yet.
  export_not_ready: { status: 409, message: 'This export is not ready yet. Please wait until it is done.' },
  // Job queue (api/operations/jobs): a job kind that is not `area.action` of [a-z0-9._-], or was never defined.
  job_kind_invalid: { status: 500, message: 'Internal error.' },
  // A job payload that is not a flat JSON object of strings, numbers, booleans and nulls, or is over 8 KB.
  job_payload_invalid: { status: 500, message: 'Internal error.' },
  // A dedupe key, delay, schedule name or period the queue cannot hold.
  job_options_invalid: { status: 500, message: 'Internal error.' },
  // drain() gave up: jobs of the kinds asked for were still queued or running at its deadline.
  job_drain_timeout: { status: 503, message: 'Background work is still running. Please try again shortly.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorId = keyof typeof errorCatalogue;

export class KluisError extends Error {
  readonly id: ErrorId;
  readonly status: number;
  readonly publicMessage: string;
  readonly retryAfterSeconds?: number;
  /** A Conditional Access claims challenge from Entra (JSON), for the client's next token request. */
  readonly claims?: string;

  constructor(id: ErrorId, detail?: string, options?: { cause?: unknown; retryAfterSeconds?: number; claims?: string }) {
    super(detail ?? errorCatalogue[id].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KluisError';
    this.id = id;
    this.status = errorCatalogue[id].status;
    this.publicMessage = errorCatalogue[id].message;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    if (options?.claims !== undefined) this.claims = options.claims;
  }
}

/** Raise a catalogued error; `detail` is for the log, never for the caller. */
export function fail(id: ErrorId, detail?: string, options?: { cause?: unknown; retryAfterSeconds?: number; claims?: string }): never {
  throw new KluisError(id, detail, options);
}

export function isKluisError(error: unknown, id?: ErrorId): error is KluisError {
  return error instanceof KluisError && (id === undefined || error.id === id);
}
