/**
 * The Bot Framework adapter. With a bot id, botbuilder validates the Bot Framework JWT of every
 * inbound activity (issuer, audience = our app id, signing keys, channel endorsements). Without
 * one, botbuilder silently turns inbound auth OFF, which is why Kluis only allows that in explicit
 * local mode on 127.0.0.1 (api/config.ts, api/main.ts).
 */
import { CallerIdConstants, type Activity, type InvokeResponse, type TurnContext } from 'botbuilder';
import { AuthenticationConstants } from 'botframework-connector';
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
    // Sovereign clouds (and tests with local stand-ins) publish the channel's signing keys and run
    // the Bot Framework Token Service (user sign-in, OAuthUrl) elsewhere. Setting one parameterized
    // value makes botbuilder expect all of them (BotFrameworkAuthenticationFactory), hence the
    // public defaults for the rest. OAuthUrl is where botbuilder's UserTokenClient sends GetToken,
    // GetSignInResource, token exchange and SignOut ("User authentication in the Azure AI Bot
    // Service", ConfigurationBotFrameworkAuthentication).
    ...(bot.openIdMetadataUrl || bot.oauthUrl
      ? {
          ToBotFromChannelOpenIdMetadataUrl: bot.openIdMetadataUrl ?? AuthenticationConstants.ToBotFromChannelOpenIdMetadataUrl,
          ToBotFromChannelTokenIssuer: AuthenticationConstants.ToBotFromChannelTokenIssuer,
          ToChannelFromBotLoginUrl: AuthenticationConstants.ToChannelFromBotLoginUrl,
          ToChannelFromBotOAuthScope: AuthenticationConstants.ToChannelFromBotOAuthScope,
          OAuthUrl: bot.oauthUrl ?? AuthenticationConstants.OAuthUrl,
          ToBotFromEmulatorOpenIdMetadataUrl: AuthenticationConstants.ToBotFromEmulatorOpenIdMetadataUrl,
          CallerId: CallerIdConstants.PublicAzureChannel,
          ValidateAuthority: true,
        }
      : {}),
  });
}

/**
 * Replies go to the activity's serviceUrl. botbuilder checks that it equals the `serviceurl` claim
 * of the channel's signed token; Kluis also keeps it to the channel's own hosts, so even a
 * mis-issued token cannot make the bot post (with its credentials) to another host.
 */
export function isAllowedServiceUrl(serviceUrl: string, hosts: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(serviceUrl);
  } catch {
    return false;
  }
  const host = url.port ? `${url.hostname}:${url.port}` : url.hostname;
  return hosts.some((allowed) => (allowed.startsWith('*.') ? url.hostname.endsWith(allowed.slice(1)) && url.hostname.length > allowed.length - 1 : allowed === host || allowed === url.hostname));
}
