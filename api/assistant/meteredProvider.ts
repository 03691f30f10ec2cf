/**
 * A ChatProvider decorator that asks the budget before a paid call and records every call.
 *
 * Built per answer for one principal (usage.ts, `forPrincipal(...).wrap(provider)`), so the
 * provider adapters stay unaware of workspaces and money. The order matters: `admit` runs before
 * anything is sent, so a refused call costs nothing and the provider never sees the request. A
 * free provider (the extractive one) is never refused, only counted. Failed calls are recorded
 * with their latency and outcome (a provider may still bill them, and admins need to see them).
 * A streaming method (`stream`, yielding text deltas and one final `done` with the result) is
 * metered the same way when the provider has one: admitted before the first request, recorded
 * when the stream ends, fails, or is abandoned by its reader.
 */
import type { ChatDelta, ChatProvider, ChatRequest, ChatResult } from './ports';

type Streaming = Omit<ChatProvider, 'stream'> & { stream?: (request: ChatRequest, signal?: AbortSignal) => AsyncIterable<ChatDelta> };

/** One call's figures; the workspace and user are added by the meter. */
export interface MeteredCall {
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
  outcome: 'success' | 'failure';
}

export interface MeteringHooks {
  /** True for a provider that costs nothing: `admit` is skipped. */
  free: boolean;
  /** Resolves when the call may go out; throws (budget_exhausted) when it may not. */
  admit(): Promise<void>;
  /** Never throws. */
  record(call: MeteredCall): Promise<void>;
}

/** Provider names and model of a failed call: the model that would have answered is unknown. */
const UNKNOWN_MODEL = 'unknown';

function figures(provider: ChatProvider, started: number, result: ChatResult | undefined): MeteredCall {
  const latencyMs = performance.now() - started;
  if (!result) return { provider: provider.name, model: UNKNOWN_MODEL, inputTokens: 0, outputTokens: 0, latencyMs, outcome: 'failure' };
  return {
    provider: result.provider,
    model: result.model,
    inputTokens: Math.max(0, Math.round(result.usage?.inputTokens ?? 0)),
    outputTokens: Math.max(0, Math.round(result.usage?.outputTokens ?? 0)),
    latencyMs,
    outcome: 'success',
  };
}

export function meteredProvider<P extends ChatProvider>(provider: P, hooks: MeteringHooks): P {
  const inner = provider as Streaming;
  const admit = () => (hooks.free ? Promise.resolve() : hooks.admit());

  const metered = {
    name: provider.name,
    async complete(request: ChatRequest, signal?: AbortSignal) {
      await admit();
      const started = performance.now();
      let result: ChatResult | undefined;
      try {
        result = await inner.complete(request, signal);
        return result;
      } finally {
        await hooks.record(figures(provider, started, result));
      }
    },
  };

  const stream = inner.stream;
  if (typeof stream === 'function') {
    (metered as Streaming).stream = async function* (request: ChatRequest, signal?: AbortSignal) {
      await admit();
      const started = performance.now();
      let result: ChatResult | undefined;
      try {
        for await (const delta of stream.call(inner, request, signal)) {
          if (delta.type === 'done') result = delta.result;
          yield delta;
        }
      } finally {
        // Also when the reader stops early: the provider was called, so the call counts.
        await hooks.record(figures(provider, started, result));
      }
    };
  }
  return metered as unknown as P;
}
