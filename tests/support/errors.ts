/** Helpers for tests that check how things fail. */
import { isKluisError, type KluisError } from '../../api/errors';

/** Resolves with the rejection so several properties can be checked; fails if the call succeeds. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

export async function kluisRejection(promise: Promise<unknown>): Promise<KluisError> {
  const error = await rejectionOf(promise);
  if (!isKluisError(error)) throw new Error(`expected a KluisError, got ${String(error)}`);
  return error;
}

/** The catalogue id of what `run` throws, undefined when it does not throw; other errors propagate. */
export function errorId(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (isKluisError(error)) return error.id;
    throw error;
  }
  return undefined;
}

/** Every string a log line or error report could show, including the cause chain. */
export function everythingSaidAbout(error: unknown): string {
  const seen: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    seen.push(String(current), current instanceof Error ? (current.stack ?? '') : '', JSON.stringify(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return seen.join('\n');
}
