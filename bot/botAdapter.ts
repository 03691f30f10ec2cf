/**
 * The Bot Framework adapter. With a bot id, botbuilder validates the Bot Framework JWT of every
 * inbound activity (issuer, audience = our app id, signing keys, channel endorsements). Without
 * one, botbuilder silently turns inbound auth OFF, which is why Kluis only allows that in explicit
 * local mode on 127.0.0.1 (api/config.ts, api/main.ts).
 */
import type { Activity, InvokeResponse, TurnContext } from 'botbuilder';
import { TeamsAdapter } from '@microsoft/teams-ai';
import type { Config } from '../api/config';

export class KluisBotAdapter extends TeamsAdapter {
  /** Authenticate and run one activity; auth failures throw botbuilder's AuthenticationError. */
  handle(authHeader: string, activity: Activity, logic: (context: TurnContext) => Promise<void>): Promise<InvokeResponse | undefined> {
    return this.processActivity(authHeader, activity, logic);
  }
}

export function createBotAdapter(bot: Config['bot']): KluisBotAdapter {
  return new KluisBotAdapter({
    MicrosoftAppId: bot.appId ?? '',
    MicrosoftAppPassword: bot.appPassword ?? '',
    MicrosoftAppType: bot.appId ? bot.appType : 'MultiTenant',
    MicrosoftAppTenantId: bot.tenantId ?? '',
  });
}
