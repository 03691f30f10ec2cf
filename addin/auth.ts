/**
 * The add-in's sign-in: nested app authentication (MSAL's createNestablePublicClientApplication,
 * the Office host brokers the token, no extra window) where the host supports it, and otherwise
 * the Office dialog (./dialog.ts signs in with MSAL's redirect flow in a dialog window and hands
 * the token back with messageParent). The token is an Entra access token for Kluis's API
 * (`access_as_user`); it is sent only to Kluis, as `Authorization: Bearer`.
 */
import { createNestablePublicClientApplication, InteractionRequiredAuthError, type IPublicClientApplication } from '@azure/msal-browser';

export interface AddinConfig {
  clientId: string | null;
  apiScope: string | null;
  authority: string;
}

let naa: Promise<IPublicClientApplication> | undefined;
let dialogToken: { token: string; expiresAt: number } | undefined;

async function viaNestedAppAuth(config: AddinConfig): Promise<string> {
  naa ??= createNestablePublicClientApplication({ auth: { clientId: config.clientId!, authority: `${config.authority}/common` } });
  const pca = await naa;
  const request = { scopes: [config.apiScope!] };
  try {
    return (await pca.acquireTokenSilent(request)).accessToken;
  } catch (error) {
    if (!(error instanceof InteractionRequiredAuthError)) throw error;
    return (await pca.acquireTokenPopup(request)).accessToken;
  }
}

function viaOfficeDialog(): Promise<string> {
  if (dialogToken && dialogToken.expiresAt > Date.now() + 60_000) return Promise.resolve(dialogToken.token);
  return new Promise((resolve, reject) => {
    Office.context.ui.displayDialogAsync(new URL('dialog.html', window.location.href).href, { height: 60, width: 30, promptBeforeOpen: false }, (result) => {
      if (result.status !== 'succeeded') return reject(new Error(result.error?.message ?? 'dialog failed'));
      const dialog = result.value;
      dialog.addEventHandler(Office.EventType.DialogMessageReceived, (arg) => {
        dialog.close();
        // Only a message from our own dialog page counts (Office passes its origin).
        if (!('message' in arg) || (arg.origin && arg.origin !== window.location.origin)) return reject(new Error('unexpected dialog message'));
        const parsed = JSON.parse(arg.message) as { token?: string; expiresOn?: number; error?: string };
        if (!parsed.token) return reject(new Error(parsed.error ?? 'sign-in failed'));
        dialogToken = { token: parsed.token, expiresAt: parsed.expiresOn ?? Date.now() + 300_000 };
        resolve(parsed.token);
      });
      dialog.addEventHandler(Office.EventType.DialogEventReceived, () => reject(new Error('sign-in window closed')));
    });
  });
}

/** A bearer token for Kluis's API, or undefined when no Entra app is configured. */
export async function apiToken(config: AddinConfig): Promise<string | undefined> {
  if (!config.clientId || !config.apiScope) return undefined;
  if (Office.context.requirements.isSetSupported('NestedAppAuth', '1.1')) {
    try {
      return await viaNestedAppAuth(config);
    } catch {
      // The host refused or could not broker the token: the dialog still can.
    }
  }
  return viaOfficeDialog();
}
