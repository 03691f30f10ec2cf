/**
 * Offline validation against the manifest schema bundled in @microsoft/app-manifest. The package
 * would download a schema it does not bundle; Kluis never lets it: the schema file is picked here
 * from the manifest's own version, and a version without a bundled schema is a problem to fix,
 * not a network call.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppManifestUtils, type AppManifest } from '@microsoft/app-manifest';

const SCHEMAS = path.join(path.dirname(require.resolve('@microsoft/app-manifest/package.json')), 'build', 'json-schemas', 'teams');

function schemaFolder(manifestVersion: string): string {
  return manifestVersion === 'devPreview' ? 'vDevPreview' : `v${manifestVersion}`;
}

/** The manifest versions this machine can validate offline. */
export function bundledSchemaVersions(): string[] {
  return fs
    .readdirSync(SCHEMAS)
    .filter((d) => fs.existsSync(path.join(SCHEMAS, d, 'MicrosoftTeams.schema.json')))
    .map((d) => (d === 'vDevPreview' ? 'devPreview' : d.slice(1)));
}

/** Schema problems as "<json pointer> <message>", empty when the manifest is valid. */
export async function validateAgainstBundledSchema(manifest: Record<string, unknown>): Promise<string[]> {
  const version = manifest.manifestVersion;
  if (typeof version !== 'string' || !/^(\d+\.\d+|devPreview)$/.test(version)) return [`/manifestVersion must be a version like 1.26 (got ${JSON.stringify(version ?? null)})`];
  const folder = schemaFolder(version);
  const file = path.join(SCHEMAS, folder, 'MicrosoftTeams.schema.json');
  if (!fs.existsSync(file)) return [`/manifestVersion ${version} has no schema bundled in @microsoft/app-manifest (bundled: ${bundledSchemaVersions().join(', ')})`];
  const expectedSchemaUrl = `https://developer.microsoft.com/json-schemas/teams/${folder}/MicrosoftTeams.schema.json`;
  const problems: string[] = [];
  if (manifest.$schema !== expectedSchemaUrl) problems.push(`/$schema must be ${expectedSchemaUrl} for manifestVersion ${version}`);
  // The published schemas hold regex escapes (\a, \v) JSON does not allow; the package cleans them the same way.
  const schema = JSON.parse(fs.readFileSync(file, 'utf8').replace(/\\a/g, '\\u0007').replace(/\\v/g, '\\u000b'));
  problems.push(...(await AppManifestUtils.validateAgainstSchema(manifest as unknown as AppManifest, schema)));
  return problems;
}
