/**
 * The Office dialog fallback of the add-in's sign-in: a top-level window on Kluis's origin where
 * MSAL's redirect flow runs (Entra pages cannot be framed); the token goes back to the task pane
 * with Office.context.ui.messageParent and nowhere else.
 */
import { PublicClientApplication } from '@azure/msal-browser';
import type { AddinConfig } from './auth';

async function run(): Promise<void> {
  await Office.onReady();
  const config = (await (await fetch('config.json', { credentials: 'omit' })).json()) as AddinConfig;
  if (!config.clientId || !config.apiScope) {
    Office.context.ui.messageParent(JSON.stringify({ error: 'not configured' }));
    return;
  }
  const pca = new PublicClientApplication({ auth: { clientId: config.clientId, authority: `${config.authority}/common`, redirectUri: window.location.origin + window.location.pathname } });
  await pca.initialize();
  const result = await pca.handleRedirectPromise();
  if (result?.accessToken) {
    Office.context.ui.messageParent(JSON.stringify({ token: result.accessToken, expiresOn: result.expiresOn?.getTime() }));
    return;
  }
  await pca.loginRedirect({ scopes: [config.apiScope] });
}

run().catch((error: unknown) => Office.context.ui.messageParent(JSON.stringify({ error: String(error).slice(0, 200) })));
