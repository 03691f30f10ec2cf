/**
 * The job-queue rules both adapters enforce before anything reaches Redis or MariaDB, so a bad
 * kind, payload or option fails the same way, with the same catalogued error, on either backend.
 */
import { fail } from '../../errors';
import type { EnqueueOptions, JobDefinition, JobPayload } from './ports';

export const KIND_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MAX_PAYLOAD_BYTES = 8 * 1024;
/** Dedupe keys and schedule names: long enough for a few ids, short enough for an indexed column. */
export const MAX_KEY_LENGTH = 110;
const KEY_PATTERN = /^[A-Za-z0-9._:@/-]+$/;
/** No delay or period beyond about 24 days: setTimeout and INTEGER columns both stop at 2^31 ms. */
export const MAX_DELAY_MS = 2 ** 31 - 1;

export const DEFAULT_ATTEMPTS = 5;
export const DEFAULT_BACKOFF_MS = 1_000;
export const DEFAULT_CONCURRENCY = 1;
export const DEFAULT_GRACE_MS = 10_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 60_000;

export function assertKind(kind: unknown): asserts kind is string {
  if (typeof kind !== 'string' || !KIND_PATTERN.test(kind)) {
    fail('job_kind_invalid', `job kind ${JSON.stringify(kind)?.slice(0, 80)} is not 1 to 64 characters of [a-z0-9._-] starting with a letter or digit`);
  }
}

export function assertDefinition(definition: JobDefinition<JobPayload>): void {
  assertKind(definition.kind);
  if (typeof definition.handle !== 'function') fail('job_kind_invalid', `job kind ${definition.kind} has no handle function`);
  for (const [name, value, min] of [
    ['attempts', definition.attempts, 1],
    ['backoffMs', definition.backoffMs, 0],
    ['concurrency', definition.concurrency, 1],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > MAX_DELAY_MS)) {
      fail('job_options_invalid', `job kind ${definition.kind}: ${name} must be an integer of at least ${min}, got ${String(value)}`);
    }
  }
}

/** A flat JSON object of strings, finite numbers, booleans and nulls, at most 8 KB as JSON. */
export function assertPayload(kind: string, payload: unknown): asserts payload is JobPayload {
  const prototype = payload !== null && typeof payload === 'object' ? Object.getPrototypeOf(payload) : undefined;
  if (Array.isArray(payload) || (prototype !== Object.prototype && prototype !== null)) {
    fail('job_payload_invalid', `payload of ${kind} must be a plain object of ids and flags, got ${Array.isArray(payload) ? 'an array' : typeof payload}`);
  }
  for (const [field, value] of Object.entries(payload as Record<string, unknown>)) {
    const flat = value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
    if (!flat) fail('job_payload_invalid', `payload of ${kind}: field ${field.slice(0, 64)} must be a string, finite number, boolean or null, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const bytes = Buffer.byteLength(JSON.stringify(payload), 'utf8');
  if (bytes > MAX_PAYLOAD_BYTES) fail('job_payload_invalid', `payload of ${kind} is ${bytes} bytes as JSON, more than ${MAX_PAYLOAD_BYTES}: pass ids, not content`);
}

export function assertKey(what: string, key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY_PATTERN.test(key)) {
    fail('job_options_invalid', `${what} must be 1 to ${MAX_KEY_LENGTH} characters of [A-Za-z0-9._:@/-], got ${JSON.stringify(key)?.slice(0, 80)}`);
  }
}

export function assertDelay(what: string, ms: unknown, min = 0): asserts ms is number {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < min || ms > MAX_DELAY_MS) {
    fail('job_options_invalid', `${what} must be an integer number of milliseconds from ${min} to ${MAX_DELAY_MS}, got ${String(ms)}`);
  }
}

export function assertEnqueueOptions(options: EnqueueOptions | undefined): void {
  if (options?.key !== undefined) assertKey('dedupe key', options.key);
  if (options?.delayMs !== undefined) assertDelay('delayMs', options.delayMs);
}

/** The wait before the next run after failed attempt `attempt` (1-based): backoffMs * 2^(attempt-1). */
export function retryDelayMs(backoffMs: number, attempt: number): number {
  return Math.min(MAX_DELAY_MS, backoffMs * 2 ** Math.max(0, attempt - 1));
}

/** What the queue keeps of an error: its catalogue id or name and message, never a stack, at most 1,000 characters. */
export function describeError(error: unknown): string {
  const id = error && typeof error === 'object' && 'id' in error && typeof (error as { id: unknown }).id === 'string' ? (error as { id: string }).id : undefined;
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  return `${id ?? name}: ${message}`.slice(0, 1_000);
}
