/**
 * How the tab proves who the user is, on every API call:
 * - inside Teams: Teams SSO, `authentication.getAuthToken()` (an Entra access token for Kluis's
 *   API, cached and renewed by Teams), sent as `Authorization: Bearer`;
 * - outside Teams (a browser on Kluis's own origin): the credentials login, whose session cookie
 *   the same-origin requests carry. A cookie never leaves for another origin.
 */
import { app, authentication } from '@microsoft/teams-js';

export interface Session {
  inTeams: boolean;
  locale?: string;
  /** Headers to add to an API call (a fresh bearer token inside Teams; nothing with a cookie session). */
  headers(): Promise<Record<string, string>>;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new DOMException('timeout', 'TimeoutError')), ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}

export async function startSession(): Promise<Session> {
  // A page that is not framed is not in Teams: no host will answer teams-js.
  if (window.parent !== window) {
    try {
      await withTimeout(app.initialize(), 5000);
      const context = await app.getContext();
      return {
        inTeams: true,
        locale: context.app.locale,
        async headers() {
          return { authorization: `Bearer ${await authentication.getAuthToken()}` };
        },
      };
    } catch {
      // Framed by something that is not Teams: fall through to the credentials session.
    }
  }
  return { inTeams: false, locale: navigator.language, headers: async () => ({}) };
}
