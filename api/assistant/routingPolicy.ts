/**
 * Per-workspace routing policies: which provider answers by default (and with which model), which
 * providers the workspace allows in fallback order, and the rules that send some questions
 * elsewhere. Admins change them, managers may read them; a workspace that saved none follows the
 * environment's policy.
 *
 * A provider without a key on this server cannot answer, whatever a policy says. Saving a policy
 * that names one is refused (routing_provider_unavailable, naming it), so an admin never believes
 * a provider is in use that is not. When a key is removed later, a stored policy keeps naming it:
 * the router simply never offers it, and reading the policy lists it under `unavailable`.
 */
import type { AuditLog } from '../audit/ports';
import { fail } from '../errors';
import { authorize } from '../tenancy/policy';
import type { Principal } from '../tenancy/principal';
import type { RoutingPolicySource } from './routing';
import { IMAGE_PROVIDER_NAMES, parseRoutingPolicy, providersNamedBy, type ImageProviderName, type ProviderName, type RoutingPolicy } from './routingPolicySchema';

export interface StoredRoutingPolicy {
  /** As stored: checked again on every read. */
  policy: unknown;
  updatedAt: Date;
  updatedByUserId?: string;
}

export interface RoutingPolicyStore {
  find(workspaceId: string): Promise<StoredRoutingPolicy | undefined>;
  save(workspaceId: string, policy: RoutingPolicy, updatedByUserId: string): Promise<void>;
}

export interface RoutingPolicyView {
  policy: RoutingPolicy;
  /** `workspace`: saved by an admin; `environment`: the server's default (nothing saved). */
  source: 'workspace' | 'environment';
  /** Providers with a key on this server (extractive needs none). */
  available: ProviderName[];
  /** Providers the policy names that have no key here: they are never offered. */
  unavailable: ProviderName[];
  updatedAt?: string;
}

export interface RoutingPolicies extends RoutingPolicySource {
  view(principal: Principal): Promise<RoutingPolicyView>;
  /** Replaces the workspace's policy with `input` (untrusted: validated here). */
  update(principal: Principal, input: unknown): Promise<RoutingPolicyView>;
  /** The image provider the workspace's image rule names, when it has a key; undefined otherwise. */
  imageProviderFor(workspaceId: string): Promise<ImageProviderName | undefined>;
}

export interface RoutingPoliciesDeps {
  store: RoutingPolicyStore;
  audit: AuditLog;
  /** The environment's policy (config.assistant.routing): the default of every workspace. */
  environment: RoutingPolicy;
  /** Providers with a key on this server. */
  available: () => ProviderName[];
  /** Called after a save, so the answer pipeline drops its cached router of the workspace. */
  onSaved?: (workspaceId: string) => void;
  /** A stored policy no longer passes validation: the environment's policy is used meanwhile. */
  onStoredInvalid?: (workspaceId: string, error: unknown) => void;
}

/** The providers a policy names that have no key on this server. */
export function unavailableProviders(policy: RoutingPolicy, available: readonly ProviderName[]): ProviderName[] {
  return providersNamedBy(policy).filter((name) => !available.includes(name));
}

export function createRoutingPolicies(deps: RoutingPoliciesDeps): RoutingPolicies {
  const current = async (workspaceId: string): Promise<{ policy: RoutingPolicy; stored?: StoredRoutingPolicy }> => {
    const stored = await deps.store.find(workspaceId);
    if (!stored) return { policy: deps.environment };
    try {
      return { policy: parseRoutingPolicy(stored.policy, 'config_invalid'), stored };
    } catch (error) {
      deps.onStoredInvalid?.(workspaceId, error);
      return { policy: deps.environment };
    }
  };
  const viewOf = (policy: RoutingPolicy, stored?: StoredRoutingPolicy, updatedAt?: Date): RoutingPolicyView => {
    const available = deps.available();
    return { policy, source: stored || updatedAt ? 'workspace' : 'environment', available, unavailable: unavailableProviders(policy, available), updatedAt: (updatedAt ?? stored?.updatedAt)?.toISOString() };
  };

  return {
    async policyFor(workspaceId) {
      return (await current(workspaceId)).policy;
    },
    async imageProviderFor(workspaceId) {
      const { policy } = await current(workspaceId);
      const available = deps.available();
      const rule = policy.rules.find((r) => r.when === 'image');
      return rule && (IMAGE_PROVIDER_NAMES as readonly string[]).includes(rule.provider) && available.includes(rule.provider) ? (rule.provider as ImageProviderName) : undefined;
    },
    async view(principal) {
      await authorize(principal, 'routing.read', { workspaceId: principal.workspaceId }, deps.audit);
      const { policy, stored } = await current(principal.workspaceId);
      return viewOf(policy, stored);
    },
    async update(principal, input) {
      await authorize(principal, 'routing.manage', { workspaceId: principal.workspaceId }, deps.audit);
      const next = parseRoutingPolicy(input);
      const missing = unavailableProviders(next, deps.available());
      if (missing.length > 0) fail('routing_provider_unavailable', `routing policy names providers without a key on this server: ${missing.join(', ')}`);
      const before = (await current(principal.workspaceId)).policy;
      await deps.store.save(principal.workspaceId, next, principal.userId);
      deps.onSaved?.(principal.workspaceId);
      // Provider names only: which models or thresholds changed is visible in the policy itself.
      await deps.audit.record({
        workspaceId: principal.workspaceId,
        actorUserId: principal.userId,
        kind: 'assistant.routing_changed',
        outcome: 'success',
        detail: {
          oldDefaultProvider: before.defaultProvider,
          newDefaultProvider: next.defaultProvider,
          oldProviders: providersNamedBy(before).join(','),
          newProviders: providersNamedBy(next).join(','),
        },
      });
      return viewOf(next, undefined, new Date());
    },
  };
}
