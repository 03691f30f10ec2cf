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
  tenant_not_onboarded: { status: 403, message: 'This organisation is not connected to Kluis.' },
  forbidden: { status: 403, message: 'You may not do this.' },
  not_found: { status: 404, message: 'Not found.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed here.' },
  tenant_scope_missing: { status: 500, message: 'Internal error.' },
  provider_unavailable: { status: 503, message: 'The language model is unavailable right now. Please try again shortly.' },
  provider_rejected: { status: 502, message: 'The language model refused the request.' },
  store_unavailable: { status: 503, message: 'A data store is unavailable.' },
  extraction_failed: { status: 422, message: 'The document could not be read.' },
  database_setup_failed: { status: 500, message: 'The database could not be prepared.' },
  migration_failed: { status: 500, message: 'A database migration failed.' },
  internal: { status: 500, message: 'Internal error.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorId = keyof typeof errorCatalogue;

export class KluisError extends Error {
  readonly id: ErrorId;
  readonly status: number;
  readonly publicMessage: string;
  readonly retryAfterSeconds?: number;

  constructor(id: ErrorId, detail?: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(detail ?? errorCatalogue[id].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KluisError';
    this.id = id;
    this.status = errorCatalogue[id].status;
    this.publicMessage = errorCatalogue[id].message;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** Raise a catalogued error; `detail` is for the log, never for the caller. */
export function fail(id: ErrorId, detail?: string, options?: { cause?: unknown; retryAfterSeconds?: number }): never {
  throw new KluisError(id, detail, options);
}

export function isKluisError(error: unknown, id?: ErrorId): error is KluisError {
  return error instanceof KluisError && (id === undefined || error.id === id);
}
