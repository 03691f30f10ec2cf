/**
 * POST /api/messages: validate the activity, authenticate it (botbuilder), check its tenant is
 * onboarded, resolve the Principal, then run the bot. Rejected input stops before anything is
 * stored or any reply is sent, and gets a catalogued 4xx.
 */
import { CardFactory, type Activity } from 'botbuilder';
import type { SecurityEventLog } from '../api/identity/ports';
import { tenantRefusedCard } from './cards';
import type { Application, TurnState } from '@microsoft/teams-ai';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { fail, isKluisError } from '../api/errors';
import type { Principals } from '../api/tenancy/principals';
import { parseActivity } from './activity';
import { isAllowedServiceUrl, type KluisBotAdapter } from './botAdapter';
import { setTurnPrincipal } from './teamsBot';
import { sendError } from '../api/http/errors';
import { decodeProtectedHeader } from 'jose';
import { randomUUID } from 'node:crypto';
import { requestLogger } from '../api/http/requestId';
import { tracing } from '../api/operations/tracing';

export interface MessagesRouteDeps {
  securityEvents: SecurityEventLog;
  /** Hosts replies may go to; undefined in local mode (the Agents Playground on localhost). */
  serviceUrlHosts?: readonly string[];
  adapter: KluisBotAdapter;
  bot: Application<TurnState>;
  principals: Principals;
  logger: Logger;
  authMethod: 'bot-framework' | 'local-playground';
}

export function createMessagesHandler(deps: MessagesRouteDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    // One turn id per activity, beside the request id, on every line this turn logs.
    const turnId = randomUUID();
    res.locals.turnId = turnId;
    const log = requestLogger(res, deps.logger).child({ turnId });
    try {
      const activity = parseActivity(req.body);
      const authHeader = typeof req.headers.authorization === 'string' ? req.headers.authorization : '';
      if (deps.authMethod === 'bot-framework') prescreenBotToken(authHeader);
      // The bot.turn span joins the trace of a caller that sent a W3C traceparent.
      const invokeResponse = await tracing().continueTrace(req.headers.traceparent, () => deps.adapter.handle(authHeader, activity as unknown as Activity, async (context) => {
        if (deps.serviceUrlHosts && !isAllowedServiceUrl(activity.serviceUrl, deps.serviceUrlHosts)) {
          await deps.securityEvents.record({ tenantId: activity.tenantId, kind: 'bot.service_url_refused', outcome: 'refused', detail: { host: safeHost(activity.serviceUrl) } });
          fail('service_url_not_allowed', 'serviceUrl host not on the allow list');
        }
        // Only after authentication: an unauthenticated caller learns nothing about which tenants exist.
        if (!(await deps.principals.isOnboarded(activity.tenantId))) {
          await deps.securityEvents.record({ tenantId: activity.tenantId, kind: 'bot.tenant_refused', outcome: 'refused', detail: { activityType: activity.type, channelId: activity.channelId } });
          // A person who typed something gets a polite answer; the HTTP status still says why.
          if (activity.type === 'message') await context.sendActivity({ attachments: [CardFactory.adaptiveCard(tenantRefusedCard())] });
          fail('tenant_not_onboarded', `Activity from tenant ${activity.tenantId}`);
        }
        // Messages and Teams' feedback on a reply act as the user; other invokes resolve their caller themselves.
        const submitAction = activity.type === 'invoke' && (activity as { name?: unknown }).name === 'message/submitAction';
        // teams-ai's feedback route reads value.actionName unguarded: a submit without a value object is malformed here.
        const value = (activity as { value?: unknown }).value;
        if (submitAction && (!value || typeof value !== 'object' || Array.isArray(value))) fail('activity_invalid', 'message/submitAction invoke without a value object');
        if (activity.type === 'message' || submitAction) {
          const oid = activity.from.aadObjectId;
          if (!oid) fail('activity_invalid', `${activity.type} activity without from.aadObjectId`);
          const principal = await deps.principals.resolve({ tenantId: activity.tenantId, entraObjectId: oid, displayName: activity.from.name, authMethod: deps.authMethod });
          // The request's log line names the tenant and workspace (api/http/requestId.ts).
          res.locals.principal = principal;
          setTurnPrincipal(context, principal);
        }
        await deps.bot.run(context);
      }));
      if (invokeResponse) res.status(invokeResponse.status).json(invokeResponse.body ?? {});
      else res.status(200).end();
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if ((error as { name?: string }).name === 'AuthenticationError' && status !== undefined && status >= 500) {
        // botbuilder could not load the channel's OpenID configuration or keys.
        log.error({ reason: (error as Error).message }, 'bot activity not checked: channel signing keys unavailable');
        sendError(res, 'identity_provider_unavailable');
        return;
      }
      // botbuilder lets jsonwebtoken's own errors through for a bad signature or time claims.
      const jwtFailure = ['JsonWebTokenError', 'TokenExpiredError', 'NotBeforeError'].includes((error as { name?: string }).name ?? '');
      if ((error as { name?: string }).name === 'AuthenticationError' || status === 401 || jwtFailure) {
        log.warn({ reason: (error as Error).message }, 'bot activity refused: authentication failed');
        sendError(res, 'unauthenticated');
        return;
      }
      if ((error as { name?: string }).name === 'FetchError') {
        // botbuilder could not fetch the Bot Framework signing keys: not the caller's fault.
        log.error({ reason: (error as Error).message }, 'bot activity not checked: signing keys unreachable');
        sendError(res, 'identity_provider_unavailable');
        return;
      }
      if (isKluisError(error)) {
        log.warn({ errorId: error.id, detail: error.message }, 'bot activity refused');
        sendError(res, error.id, error.retryAfterSeconds);
        return;
      }
      log.error({ err: error }, 'bot turn failed');
      sendError(res, 'internal');
    }
  };
}

/**
 * Cheap checks before botbuilder's full validation. Bot Framework and Teams sign every token with
 * RS256 (Bot Framework authentication spec, "Connector to bot"); anything else — no token, another
 * scheme, `alg: none`, HS256 made with a public key — is refused here without a network round trip
 * for signing keys.
 */
export function prescreenBotToken(authHeader: string): void {
  const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/.exec(authHeader);
  if (!match) fail('unauthenticated', 'No Bearer JWT on the activity');
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(match[1]!).alg;
  } catch {
    fail('unauthenticated', 'Unreadable JWT header');
  }
  if (alg !== 'RS256') fail('unauthenticated', `JWT alg ${String(alg)} is not accepted`);
}

function safeHost(url: string): string {
  try {
    return new URL(url).host.slice(0, 255);
  } catch {
    return 'unparseable';
  }
}
