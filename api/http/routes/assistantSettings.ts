/**
 * /api/workspace/assistant: the assistant's settings of the caller's workspace (admins only).
 * The instructions are write-only: a PUT sets or removes them, no response ever contains them.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { AssistantSettings } from '../../assistant/settings';
import { MAX_INSTRUCTIONS_CHARS } from '../../assistant/prompt';
import { principalOf, requirePrincipal, type AuthenticateDeps } from '../authenticate';
import { parseBody } from '../validate';

const limit = z.number().int();

export const updateAssistantSettingsBody = z
  .object({
    instructions: z.string().max(MAX_INSTRUCTIONS_CHARS * 2).nullable().optional(),
    maxTurns: limit.optional(),
    maxTurnChars: limit.optional(),
    maxPassages: limit.optional(),
    maxPassageChars: limit.optional(),
  })
  .strict();

export function assistantSettingsRouter(deps: { authenticate: AuthenticateDeps; settings: AssistantSettings }): Router {
  const router = Router();
  const signedIn = requirePrincipal(deps.authenticate);
  router.get('/workspace/assistant', signedIn, async (_req, res) => {
    res.set('cache-control', 'no-store').json(await deps.settings.view(principalOf(res)));
  });
  router.put('/workspace/assistant', signedIn, async (req, res) => {
    res.set('cache-control', 'no-store').json(await deps.settings.update(principalOf(res), parseBody(updateAssistantSettingsBody, req)));
  });
  return router;
}
