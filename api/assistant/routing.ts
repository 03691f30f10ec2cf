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
 * workspace (routingPolicy.ts: the workspace's stored policy, else the environment's).
 */
import { fail, isKluisError, type ErrorId } from '../errors';
import type { ChatDelta, ChatProvider, ChatRequest, ChatResult } from './ports';
import { CHAT_PROVIDER_NAMES, isChatProvider, type ChatProviderName, type ProviderName, type RoutingPolicy } from './routingPolicySchema';

export { CHAT_PROVIDER_NAMES, PROVIDER_NAMES, parseRoutingPolicy, type ChatProviderName, type ProviderName, type RoutingPolicy, type RoutingRule } from './routingPolicySchema';

/** The adapters the composition root could build: only providers with a key are present. */
export interface ProviderCatalogue {
  available(): ChatProviderName[];
  /** The adapter for a provider, with the workspace's model if it names one. */
  get(name: ChatProviderName, model?: string): ChatProvider;
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
export function candidatesFor(policy: RoutingPolicy, catalogue: ProviderCatalogue, request: ChatRequest): ChatProviderName[] {
  const available = new Set<ProviderName>(catalogue.available());
  const allowed = new Set(policy.allowed);
  const promptChars = request.messages.reduce((sum, m) => sum + m.content.length, 0);
  const ruled = policy.rules
    .filter((rule) => (rule.when === 'web' ? request.grounding === 'web' : rule.when === 'long-context' ? promptChars >= rule.minChars : false))
    .map((rule) => rule.provider);
  const order: ChatProviderName[] = [];
  for (const name of [...ruled, policy.defaultProvider, ...policy.allowed]) {
    if (isChatProvider(name) && allowed.has(name) && available.has(name) && !order.includes(name)) order.push(name);
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

/** The router of each workspace, from the policy its source holds. */
export interface WorkspaceRouting {
  forWorkspace(workspaceId: string): Promise<ChatProvider>;
  /** Forget a workspace's cached router: its policy was just saved (by this replica). */
  invalidate(workspaceId: string): void;
}

export interface WorkspaceRoutingOptions extends RouterOptions {
  /**
   * How long a workspace's router is reused before its policy is read again. A save on this
   * replica invalidates at once; other replicas pick the change up within this time.
   */
  cacheMs?: number;
  /** At most this many workspaces are cached; the least recently loaded one goes first. */
  maxCached?: number;
  now?: () => number;
}

export const ROUTING_CACHE_MS = 30_000;

export function createWorkspaceRouting(source: RoutingPolicySource, catalogue: ProviderCatalogue, options: WorkspaceRoutingOptions = {}): WorkspaceRouting {
  const cacheMs = options.cacheMs ?? ROUTING_CACHE_MS;
  const maxCached = options.maxCached ?? 10_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { router: ChatProvider; expiresAt: number }>();
  return {
    async forWorkspace(workspaceId) {
      const cached = cache.get(workspaceId);
      if (cached && cached.expiresAt > now()) return cached.router;
      const router = createRouter(await source.policyFor(workspaceId), catalogue, options);
      cache.delete(workspaceId);
      if (cache.size >= maxCached) cache.delete(cache.keys().next().value!);
      if (cacheMs > 0) cache.set(workspaceId, { router, expiresAt: now() + cacheMs });
      return router;
    },
    invalidate(workspaceId) {
      cache.delete(workspaceId);
    },
  };
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
export function catalogueOf(factories: Partial<Record<ChatProviderName, (model?: string) => ChatProvider>>): ProviderCatalogue {
  const built = new Map<string, ChatProvider>();
  return {
    available: () => CHAT_PROVIDER_NAMES.filter((name) => factories[name] !== undefined),
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
