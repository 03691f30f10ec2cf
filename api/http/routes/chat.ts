/**
 * POST /api/chat: the Teams tab's and the Outlook add-in's door to the answer pipeline, answered
 * as a Server-Sent Events stream (text/event-stream) so the page can show progress and text as it
 * arrives. Events, in order:
 *   status {text}                                  what Kluis is doing (may repeat)
 *   delta  {text}                                  the next piece of the answer text (may repeat)
 *   done   {text, citations, provider, nothingFound, conversationId}   the whole answer, once
 *   error  {id, message}                           instead of done: a catalogued error, once
 * Deltas come as the provider writes them (held back by the stream guard of api/assistant/leakGuard.ts,
 * so no run of the system prompt is ever shown); `done` carries the final text, which replaces
 * what was streamed (it differs only when an answer had to be withheld). Validation and authentication fail before the stream
 * starts, as ordinary JSON errors with their status.
 *
 * The conversation key is `${channel}:${userId}:${conversationId}`: the client picks the id (so a
 * page can start a new conversation without a round trip), but it is scoped to the caller, so
 * nobody can join or read another user's conversation by guessing its id.
 */
import { randomUUID } from 'node:crypto';
import express, { Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Assistant } from '../../assistant/assistant';
import { errorCatalogue, fail, isKluisError } from '../../errors';
import { tracing } from '../../operations/tracing';
import { delegatedOf, principalOf, requirePrincipal, type AuthenticateDeps } from '../authenticate';
import { parseBody } from '../validate';
import type { TurnLimiter } from '../../assistant/turnLimiter';

export const MAX_CHAT_MESSAGE_CHARS = 4000;
export const MAX_MAIL_SUBJECT_CHARS = 300;
export const MAX_MAIL_BODY_CHARS = 50_000;
/** 50,000 characters of e-mail may be up to four bytes each in UTF-8, plus the JSON around them. */
export const MAX_CHAT_BODY_BYTES = 256 * 1024;

export const chatBody = z
  .object({
    message: z.string().min(1).max(MAX_CHAT_MESSAGE_CHARS),
    conversationId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _ only (at most 64)').optional(),
    channel: z.enum(['tab', 'outlook']),
    task: z.enum(['answer', 'summarise', 'draft']).optional(),
    mail: z.object({ subject: z.string().max(MAX_MAIL_SUBJECT_CHARS), body: z.string().max(MAX_MAIL_BODY_CHARS) }).strict().optional(),
    /** `web`: the asker wants the answer grounded on the web (the workspace's `web` routing rule). */
    grounding: z.enum(['web']).optional(),
  })
  .strict()
  .refine((b) => (b.task ?? 'answer') === 'answer' || b.mail !== undefined, { message: 'summarise and draft need the e-mail', path: ['mail'] });

export type ChatEvent =
  | { event: 'status'; data: { text: string } }
  | { event: 'delta'; data: { text: string } }
  | { event: 'done'; data: { text: string; citations: unknown[]; provider: string; nothingFound: boolean; conversationId: string } }
  | { event: 'error'; data: { id: string; message: string } };

/** One SSE frame; JSON never holds a raw newline, so `data:` stays one line. */
export function sseFrame(e: ChatEvent): string {
  return `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}


export function chatRouter(deps: { authenticate: AuthenticateDeps; assistant: Pick<Assistant, 'answer'>; logger: Logger; turns?: TurnLimiter }): Router {
  const router = Router();
  // Mounted among the stream routers: the body limit is its own (an e-mail is larger than other API bodies).
  const json = express.json({ limit: MAX_CHAT_BODY_BYTES, strict: true });
  const jsonOnly: express.RequestHandler = (req, _res, next) => (req.is('application/json') ? next() : fail('unsupported_media_type', 'POST /api/chat takes JSON'));
  // The turn's span carries its channel, task and workspace; never the question or the answer.
  // A caller that sends a W3C traceparent (the tab's own telemetry, a gateway) gets the turn in its trace.
  router.post('/chat', requirePrincipal(deps.authenticate), jsonOnly, json, (req, res) => tracing().continueTrace(req.headers.traceparent, () => tracing().span('chat.turn', { 'kluis.workspace.id': principalOf(res).workspaceId }, async (turn) => {
    const principal = principalOf(res);
    const body = parseBody(chatBody, req);
    turn.set({ 'kluis.channel': body.channel, 'kluis.task': body.task ?? 'answer' });
    const conversationId = body.conversationId ?? randomUUID();
    // Before the stream opens, so a turn over the limit is a plain 429 with Retry-After.
    await deps.turns?.admit(principal);
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    const send = (e: ChatEvent) => {
      // A client that went away (closed the tab) gets nothing more; the answer is stored all the same.
      if (!res.writableEnded && !res.destroyed) res.write(sseFrame(e));
    };
    try {
      let streamed = false;
      const answer = await deps.assistant.answer(
        principal,
        body.message,
        {
          channel: body.channel,
          conversationExternalId: `${body.channel}:${principal.userId}:${conversationId}`,
          task: body.task,
          mail: body.mail,
          grounding: body.grounding,
          // A bearer caller's own SharePoint access confirms the final passages (live check).
          access: delegatedOf(res)?.access,
        },
        {
          onStatus: (text) => send({ event: 'status', data: { text } }),
          onText: (text) => {
            streamed = true;
            send({ event: 'delta', data: { text } });
          },
        },
      );
      // Nothing streamed (no passage answered the question): the whole text in one piece.
      if (!streamed) send({ event: 'delta', data: { text: answer.text } });
      send({ event: 'done', data: { text: answer.text, citations: answer.citations, provider: answer.provider, nothingFound: answer.nothingFound, conversationId } });
    } catch (error) {
      const id = isKluisError(error) ? error.id : 'internal';
      if (!isKluisError(error) || error.status >= 500) deps.logger.error({ err: error, errorId: id }, 'chat answer failed');
      turn.fail(id);
      send({ event: 'error', data: { id, message: errorCatalogue[id].message } });
    }
    res.end();
  })));
  return router;
}
