/**
 * The Teams tab (/tab) and the Outlook add-in (/addin): static pages built by scripts/build-web.ts
 * into dist/web, each behind its own Content-Security-Policy:
 * - scripts, styles, images and fonts from Kluis only (`'self'`), no inline script or style, no eval,
 *   no plugins; the add-in also loads Office.js from Microsoft's CDN, as Office requires;
 * - `connect-src 'self'` (the API), plus the Entra authority for MSAL in the add-in and teams-js's
 *   list of valid host origins in the tab;
 * - `frame-ancestors`: only the Teams, Microsoft 365 and Outlook hosts Microsoft documents for tabs
 *   and add-ins ("Tab requirements": teams.microsoft.com, *.teams.microsoft.com, *.cloud.microsoft,
 *   *.microsoft365.com, *.office.com, outlook.office.com, outlook.office365.com, ...).
 * HSTS and the rest of helmet's defaults stay; X-Frame-Options is left out (it cannot name several
 * hosts, and frame-ancestors supersedes it) and so is Cross-Origin-Opener-Policy (the Office dialog
 * and Teams' authentication window talk to their cross-origin opener).
 * /tab/config.json and /addin/config.json tell the pages the Entra app to ask tokens for (no inline
 * configuration script needed).
 */
import fs from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import helmet from 'helmet';

export const OFFICE_JS_ORIGIN = 'https://appsforoffice.microsoft.com';

/** Hosts that may frame the tab and the add-in (Microsoft's "Tab requirements" and Office add-in hosts). */
export const HOST_FRAME_ANCESTORS = [
  'https://teams.microsoft.com',
  'https://*.teams.microsoft.com',
  'https://teams.cloud.microsoft',
  'https://*.cloud.microsoft',
  'https://*.microsoft365.com',
  'https://*.office.com',
  'https://*.office365.com',
  'https://outlook.live.com',
  'https://*.outlook.com',
];

export type WebArea = 'tab' | 'addin';

/** teams-js reads the current list of valid host origins from Microsoft's CDN (and falls back to its own). */
export const TEAMS_JS_ORIGINS_CDN = 'https://res.cdn.office.net';

export function webPageDirectives(area: WebArea, opts: { authorityHost: string }): Record<string, string[]> {
  const authority = new URL(opts.authorityHost).origin;
  return {
    'default-src': ["'self'"],
    'script-src': area === 'addin' ? ["'self'", OFFICE_JS_ORIGIN] : ["'self'"],
    'style-src': ["'self'"],
    'img-src': ["'self'", 'data:'],
    'font-src': ["'self'"],
    'connect-src': area === 'addin' ? ["'self'", authority] : ["'self'", TEAMS_JS_ORIGINS_CDN],
    'frame-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'self'", ...HOST_FRAME_ANCESTORS],
  };
}

export interface WebClientConfig {
  /** Entra app (client) id the pages ask tokens for; unset = only the credentials login works. */
  clientId?: string;
  /** The delegated scope of Kluis's API, e.g. api://kluis.example/<id>/access_as_user. */
  apiScope?: string;
  authority: string;
}

export function webPagesRouter(deps: { dir: string; client: WebClientConfig; onMissingBuild?: (dir: string) => void }): Router {
  const router = Router();
  if (!fs.existsSync(path.join(deps.dir, 'tab', 'index.html'))) deps.onMissingBuild?.(deps.dir);
  for (const area of ['tab', 'addin'] as const) {
    router.use(
      `/${area}`,
      helmet({
        contentSecurityPolicy: { useDefaults: false, directives: webPageDirectives(area, { authorityHost: deps.client.authority }) },
        xFrameOptions: false,
        crossOriginOpenerPolicy: false,
      }),
    );
    router.get(`/${area}/config.json`, (_req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json({ clientId: deps.client.clientId ?? null, apiScope: deps.client.apiScope ?? null, authority: deps.client.authority });
    });
    router.use(`/${area}`, express.static(path.join(deps.dir, area), { index: 'index.html', dotfiles: 'ignore', fallthrough: true, redirect: false }));
  }
  return router;
}
