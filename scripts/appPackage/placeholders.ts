/**
 * `${{NAME}}` placeholders, the Teams Toolkit's syntax, so the same manifest template serves the
 * toolkit's own teamsApp/zipAppPackage and `npm run package`. Values are inserted JSON-escaped: a
 * quote or backslash in a setting cannot change the manifest's structure.
 */

const PLACEHOLDER = /\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The names a template uses, in order of first use. */
export function placeholderNames(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

/** Fill every placeholder; names without a value are listed in `missing` and left in place. */
export function fillPlaceholders(template: string, values: Record<string, string>): { text: string; missing: string[] } {
  const missing = new Set<string>();
  const text = template.replace(PLACEHOLDER, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) {
      missing.add(name);
      return whole;
    }
    return JSON.stringify(value).slice(1, -1);
  });
  return { text, missing: [...missing] };
}
