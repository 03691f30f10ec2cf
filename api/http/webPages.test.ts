/** The pages' CSP: only Microsoft's Teams and Outlook hosts may frame them. */
import { HOST_FRAME_ANCESTORS, OFFICE_JS_ORIGIN, TEAMS_JS_ORIGINS_CDN, webPageDirectives } from './webPages';

describe('webPageDirectives', () => {
  it('lets only the Teams, Microsoft 365 and Outlook hosts frame the pages ', () => {
    for (const area of ['tab', 'addin'] as const) {
      const d = webPageDirectives(area, { authorityHost: 'https://login.microsoftonline.com' });
      expect(d['frame-ancestors']).toEqual(["'self'", ...HOST_FRAME_ANCESTORS]);
      expect(d['frame-ancestors']!.every((s) => s === "'self'" || s.startsWith('https://'))).toBe(true);
      expect(Object.values(d).flat()).not.toContain("'unsafe-inline'");
    }
  });

  it('loads Office.js and talks to the Entra authority only in the add-in', () => {
    const tab = webPageDirectives('tab', { authorityHost: 'https://login.microsoftonline.us/' });
    const addin = webPageDirectives('addin', { authorityHost: 'https://login.microsoftonline.us/' });
    expect(tab['script-src']).toEqual(["'self'"]);
    expect(addin['script-src']).toEqual(["'self'", OFFICE_JS_ORIGIN]);
    expect(tab['connect-src']).toEqual(["'self'", TEAMS_JS_ORIGINS_CDN]);
    expect(addin['connect-src']).toEqual(["'self'", 'https://login.microsoftonline.us']);
  });
});
