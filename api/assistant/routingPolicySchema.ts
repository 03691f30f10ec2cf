/**
 * The routing policy format, as an admin writes it (PUT /api/workspace/routing), as it is stored
 * (WorkspaceRoutingPolicy.policy) and as the environment sets it. One zod schema checks it
 * wherever it comes from: only known provider names, rule kinds from a fixed list, bounded model
 * names and sizes, the default and every rule's provider among the allowed ones.
 */
import { z } from 'zod';
import { fail, type ErrorId } from '../errors';

/** Providers that answer questions (the router chooses among these). */
export const CHAT_PROVIDER_NAMES = ['extractive', 'openai', 'azure-openai', 'anthropic', 'gemini', 'perplexity'] as const;
/** Providers that generate images (the `/image` command). */
export const IMAGE_PROVIDER_NAMES = ['stability'] as const;
export const PROVIDER_NAMES = [...CHAT_PROVIDER_NAMES, ...IMAGE_PROVIDER_NAMES] as const;

export type ChatProviderName = (typeof CHAT_PROVIDER_NAMES)[number];
export type ImageProviderName = (typeof IMAGE_PROVIDER_NAMES)[number];
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export const RULE_KINDS = ['web', 'long-context', 'image'] as const;
export const MAX_ROUTING_RULES = 10;
export const MAX_MODEL_CHARS = 100;
/** Letters, digits and the punctuation real model and deployment names use; nothing that could quote or break out. */
export const MODEL_NAME = /^[A-Za-z0-9._:/@-]+$/;
export const LONG_CONTEXT_CHARS = { min: 1, max: 10_000_000 } as const;

export function isChatProvider(name: string): name is ChatProviderName {
  return (CHAT_PROVIDER_NAMES as readonly string[]).includes(name);
}

const chatProvider = z.enum(CHAT_PROVIDER_NAMES, { message: `expected one of ${CHAT_PROVIDER_NAMES.join(', ')}` });
const anyProvider = z.enum(PROVIDER_NAMES, { message: `expected one of ${PROVIDER_NAMES.join(', ')}` });
const modelName = z.string().min(1).max(MAX_MODEL_CHARS).regex(MODEL_NAME, 'a model name has letters, digits and . _ : / @ - only');

const rule = z.discriminatedUnion('when', [
  /** Questions the caller marks as needing the web (`request.grounding === 'web'`). */
  z.object({ when: z.literal('web'), provider: chatProvider }).strict(),
  /** Prompts of at least `minChars` characters (all messages together). */
  z.object({ when: z.literal('long-context'), minChars: z.number().int().min(LONG_CONTEXT_CHARS.min).max(LONG_CONTEXT_CHARS.max), provider: chatProvider }).strict(),
  /** Image requests (`/image`): the image provider the workspace lets Kluis use. */
  z.object({ when: z.literal('image'), provider: z.enum(IMAGE_PROVIDER_NAMES) }).strict(),
]);

export const routingPolicySchema = z
  .object({
    defaultProvider: chatProvider,
    /** The providers this workspace may use, in the order they are tried after the chosen one. */
    allowed: z.array(anyProvider).min(1).max(PROVIDER_NAMES.length),
    rules: z.array(rule).max(MAX_ROUTING_RULES).default([]),
    /** The model per provider, where the workspace wants another than the configured one. */
    models: z.record(anyProvider, modelName).optional(),
    /** How many providers one question may try at most (the first included). Default: all candidates. */
    maxAttempts: z.number().int().min(1).max(CHAT_PROVIDER_NAMES.length).optional(),
  })
  .strict()
  .superRefine((policy, ctx) => {
    if (new Set(policy.allowed).size !== policy.allowed.length) ctx.addIssue({ code: 'custom', path: ['allowed'], message: 'lists a provider twice' });
    if (!policy.allowed.includes(policy.defaultProvider)) ctx.addIssue({ code: 'custom', path: ['defaultProvider'], message: `${policy.defaultProvider} is not in allowed` });
    policy.rules.forEach((r, i) => {
      if (!policy.allowed.includes(r.provider)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'provider'], message: `${r.provider} is not in allowed` });
    });
  });

export type RoutingRule = z.infer<typeof rule>;
export type RoutingPolicy = Omit<z.infer<typeof routingPolicySchema>, 'models'> & { models?: Partial<Record<ProviderName, string>> };

/**
 * A policy from untrusted input (an admin's request, a stored row), checked field by field. Fails
 * with `errorId` (request_malformed by default) naming the first problem; never returns a partly
 * valid policy.
 */
export function parseRoutingPolicy(input: unknown, errorId: ErrorId = 'request_malformed'): RoutingPolicy {
  const parsed = routingPolicySchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return fail(errorId, `routing policy: field ${issue.path.join('.') || '(policy)'}: ${issue.message}`);
  }
  const { models, maxAttempts, ...rest } = parsed.data;
  return { ...rest, ...(models ? { models } : {}), ...(maxAttempts ? { maxAttempts } : {}) };
}

/** Every provider the policy names (allowed, default, rules, models), once, in a stable order. */
export function providersNamedBy(policy: RoutingPolicy): ProviderName[] {
  const named = new Set<ProviderName>([policy.defaultProvider, ...policy.allowed, ...policy.rules.map((r) => r.provider), ...(Object.keys(policy.models ?? {}) as ProviderName[])]);
  return PROVIDER_NAMES.filter((name) => named.has(name));
}
