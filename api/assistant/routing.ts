/**
 * Routing: which language model answers, per workspace. A routing policy names the default
 * provider (and, optionally, the model per provider), the providers the workspace allows, and
 * rules that send some questions elsewhere (web-grounded ones to a provider that searches the web,
 * long prompts to a long-context model). The router is itself a ChatProvider: it tries the chosen
 * provider, and when that one is unavailable after its SDK's own retries (429, 5xx, timeouts, a
 * broken stream) it falls back to the next allowed provider, saying in the result who answered and
 * whom it passed over. A rejected request (400, 401/403) does not fall back: another provider
 * would be sent the same request for the wrong reason, and the admin must see the error.
 *
 * Providers come from a catalogue the composition root builds; a provider without a key is not in
 * it and so is never offered, whatever a policy says. Policies come from a source keyed by
 * workspace (an environment default today; stored per workspace later).
 */
import { fail, isKluisError, type ErrorId } from '../errors';
import type { ChatDelta, ChatProvider, ChatRequest, ChatResult } from './ports';

export const PROVIDER_NAMES = ['extractive', 'openai', 'azure-openai', 'anthropic', 'gemini', 'perplexity'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export type RoutingRule =
  /** Questions the caller marks as needing the web (`request.grounding === 'web'`). */
  | { when: 'web'; provider: ProviderName }
  /** Prompts of at least `minChars` characters (all messages together). */
  | { when: 'long-context'; minChars: number; provider: ProviderName };

export interface RoutingPolicy {
  defaultProvider: ProviderName;
  /** The providers this workspace may use, in the order they are tried after the chosen one. */
  allowed: ProviderName[];
  rules: RoutingRule[];
  /** The model per provider, where the workspace wants another than the configured one. */
  models?: Partial<Record<ProviderName, string>>;
  /** How many providers one question may try at most (the first included). Default: all candidates. */
  maxAttempts?: number;
}

/** The adapters the composition root could build: only providers with a key are present. */
export interface ProviderCatalogue {
  available(): ProviderName[];
  /** The adapter for a provider, with the workspace's model if it names one. */
  get(name: ProviderName, model?: string): ChatProvider;
}

/** Where a workspace's policy comes from. */
export interface RoutingPolicySource {
  policyFor(workspaceId: string): Promise<RoutingPolicy>;
}

/** Errors after which the next provider is tried: the provider is unavailable, not the request wrong. */
const FALLBACK_ON: ReadonlySet<ErrorId> = new Set<ErrorId>(['provider_unavailable', 'provider_stream_invalid']);

export interface RouterOptions {
  logger?: { warn(obj: object, msg: string): void };
}

/** The providers to try for this request, in order: a matching rule's, the default, then the rest allowed. */
export function candidatesFor(policy: RoutingPolicy, catalogue: ProviderCatalogue, request: ChatRequest): ProviderName[] {
  const available = new Set(catalogue.available());
  const allowed = new Set(policy.allowed);
  const promptChars = request.messages.reduce((sum, m) => sum + m.content.length, 0);
  const ruled = policy.rules
    .filter((rule) => (rule.when === 'web' ? request.grounding === 'web' : promptChars >= rule.minChars))
    .map((rule) => rule.provider);
  const order: ProviderName[] = [];
  for (const name of [...ruled, policy.defaultProvider, ...policy.allowed]) {
    if (allowed.has(name) && available.has(name) && !order.includes(name)) order.push(name);
  }
  return order.slice(0, policy.maxAttempts ?? order.length);
}

export function createRouter(policy: RoutingPolicy, catalogue: ProviderCatalogue, options: RouterOptions = {}): ChatProvider {
  checkPolicy(policy);

  const plan = (request: ChatRequest): ChatProvider[] => {
    const names = candidatesFor(policy, catalogue, request);
    if (names.length === 0) fail('provider_not_configured', `no allowed provider has a key (allowed: ${policy.allowed.join(', ') || 'none'})`);
    return names.map((name) => catalogue.get(name, policy.models?.[name]));
  };

  const passOver = (provider: ChatProvider, error: unknown, isLast: boolean, signal: AbortSignal | undefined): { provider: string; errorId: string } => {
    if (signal?.aborted || isLast || !isKluisError(error) || !FALLBACK_ON.has(error.id)) throw error;
    options.logger?.warn({ provider: provider.name, errorId: error.id, retryAfterSeconds: error.retryAfterSeconds }, 'provider unavailable, falling back to the next allowed provider');
    return { provider: provider.name, errorId: error.id };
  };

  const withFallbacks = (result: ChatResult, fellBackFrom: Array<{ provider: string; errorId: string }>): ChatResult =>
    fellBackFrom.length > 0 ? { ...result, fellBackFrom } : result;

  return {
    name: 'router',

    async complete(request: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
      signal?.throwIfAborted();
      const providers = plan(request);
      const fellBackFrom: Array<{ provider: string; errorId: string }> = [];
      for (const [i, provider] of providers.entries()) {
        try {
          return withFallbacks(await provider.complete(request, signal), fellBackFrom);
        } catch (error) {
          fellBackFrom.push(passOver(provider, error, i === providers.length - 1, signal));
        }
      }
      // Unreachable: the last provider's error is rethrown by passOver.
      return fail('internal', 'router ran out of providers without an error');
    },

    async *stream(request: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatDelta> {
      signal?.throwIfAborted();
      const providers = plan(request);
      const fellBackFrom: Array<{ provider: string; errorId: string }> = [];
      for (const [i, provider] of providers.entries()) {
        let wrote = false;
        try {
          for await (const delta of provider.stream(request, signal)) {
            if (delta.type === 'done') {
              yield { type: 'done', result: withFallbacks(delta.result, fellBackFrom) };
              return;
            }
            wrote = true;
            yield delta;
          }
          return fail('provider_stream_invalid', `${provider.name} stream ended without a result`);
        } catch (error) {
          // Text already shown cannot be taken back: a failure after it ends the answer here.
          if (wrote) throw error;
          fellBackFrom.push(passOver(provider, error, i === providers.length - 1, signal));
        }
      }
    },
  };
}

/** A router per workspace, from the policy its source holds (read on every question, so edits apply at once). */
export function createWorkspaceRouting(source: RoutingPolicySource, catalogue: ProviderCatalogue, options: RouterOptions = {}) {
  return {
    async forWorkspace(workspaceId: string): Promise<ChatProvider> {
      return createRouter(await source.policyFor(workspaceId), catalogue, options);
    },
  };
}

const MAX_RULES = 10;
const MAX_MODEL_CHARS = 100;

/**
 * A policy from untrusted input (an admin's card, a stored row), checked field by field: only known
 * provider names, rules and default within the allowed list, bounded sizes. Fails with
 * request_malformed naming the first problem; never returns a partly valid policy.
 */
export function parseRoutingPolicy(input: unknown): RoutingPolicy {
  const bad = (why: string): never => fail('request_malformed', `routing policy: ${why}`);
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return bad('expected an object');
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!['defaultProvider', 'allowed', 'rules', 'models', 'maxAttempts'].includes(key)) bad(`unknown field ${JSON.stringify(key.slice(0, 40))}`);
  }
  const name = (value: unknown, where: string): ProviderName =>
    typeof value === 'string' && (PROVIDER_NAMES as readonly string[]).includes(value) ? (value as ProviderName) : bad(`${where} is not a known provider`);

  if (!Array.isArray(raw.allowed) || raw.allowed.length === 0 || raw.allowed.length > PROVIDER_NAMES.length) bad(`allowed must list 1 to ${PROVIDER_NAMES.length} providers`);
  const allowed = (raw.allowed as unknown[]).map((value, i) => name(value, `allowed[${i}]`));
  if (new Set(allowed).size !== allowed.length) bad('allowed lists a provider twice');
  const defaultProvider = name(raw.defaultProvider, 'defaultProvider');

  const rulesInput = raw.rules ?? [];
  if (!Array.isArray(rulesInput) || rulesInput.length > MAX_RULES) bad(`rules must be a list of at most ${MAX_RULES}`);
  const rules = (rulesInput as unknown[]).map((rule, i): RoutingRule => {
    if (rule === null || typeof rule !== 'object') return bad(`rules[${i}] is not an object`);
    const r = rule as Record<string, unknown>;
    const provider = name(r.provider, `rules[${i}].provider`);
    if (r.when === 'web') return { when: 'web', provider };
    if (r.when === 'long-context') {
      if (typeof r.minChars !== 'number' || !Number.isInteger(r.minChars) || r.minChars < 1 || r.minChars > 10_000_000) bad(`rules[${i}].minChars must be an integer from 1 to 10000000`);
      return { when: 'long-context', minChars: r.minChars as number, provider };
    }
    return bad(`rules[${i}].when must be web or long-context`);
  });

  let models: RoutingPolicy['models'];
  if (raw.models !== undefined) {
    if (raw.models === null || typeof raw.models !== 'object' || Array.isArray(raw.models)) bad('models must be an object');
    models = {};
    for (const [key, value] of Object.entries(raw.models as Record<string, unknown>)) {
      const provider = name(key, `models key ${JSON.stringify(key.slice(0, 40))}`);
      if (typeof value !== 'string' || !/^[A-Za-z0-9._:/@-]+$/.test(value) || value.length > MAX_MODEL_CHARS) bad(`models.${provider} is not a model name`);
      models[provider] = value as string;
    }
  }

  let maxAttempts: number | undefined;
  if (raw.maxAttempts !== undefined) {
    if (typeof raw.maxAttempts !== 'number' || !Number.isInteger(raw.maxAttempts) || raw.maxAttempts < 1 || raw.maxAttempts > PROVIDER_NAMES.length) bad(`maxAttempts must be 1 to ${PROVIDER_NAMES.length}`);
    maxAttempts = raw.maxAttempts as number;
  }

  const policy: RoutingPolicy = { defaultProvider, allowed, rules, ...(models ? { models } : {}), ...(maxAttempts ? { maxAttempts } : {}) };
  checkPolicy(policy, 'request_malformed');
  return policy;
}

/** The default and every rule's provider must be allowed; otherwise the policy says two things at once. */
function checkPolicy(policy: RoutingPolicy, id: ErrorId = 'config_invalid'): void {
  if (!policy.allowed.includes(policy.defaultProvider)) fail(id, `routing policy: the default provider ${policy.defaultProvider} is not in allowed`);
  for (const rule of policy.rules) {
    if (!policy.allowed.includes(rule.provider)) fail(id, `routing policy: the ${rule.when} rule names ${rule.provider}, which is not in allowed`);
  }
}

/**
 * A catalogue over adapter factories: a provider is available when it has a factory (the
 * composition root adds one only for providers with a key). Adapters are built once per model.
 */
export function catalogueOf(factories: Partial<Record<ProviderName, (model?: string) => ChatProvider>>): ProviderCatalogue {
  const built = new Map<string, ChatProvider>();
  return {
    available: () => PROVIDER_NAMES.filter((name) => factories[name] !== undefined),
    get(name, model) {
      const factory = factories[name];
      if (factory === undefined) return fail('provider_not_configured', `provider ${name} has no key configured`);
      const key = `${name}\u0000${model ?? ''}`;
      let provider = built.get(key);
      if (provider === undefined) {
        provider = factory(model);
        built.set(key, provider);
      }
      return provider;
    },
  };
}
