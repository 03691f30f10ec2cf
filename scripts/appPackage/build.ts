/**
 * Build the app package for one environment: fill the manifest template, refuse it on any problem
 * (unset or malformed settings, plain http, ids that differ from Kluis's, domains that do not match
 * the URLs, commands without a handler, a schema violation, icons of the wrong size), and only then
 * write appPackage/build/appPackage.<environment>.zip holding manifest.json and the two icons.
 * The settings are checked first, each problem named by its setting; then the filled manifest and
 * the icons, every problem at once, one line each.
 */
import fs from 'node:fs';
import path from 'node:path';
import JSZip from 'jszip';
import { BOT_COMMANDS } from '../../bot/cards';
import { checkManifest } from './manifestChecks';
import { fillPlaceholders, placeholderNames } from './placeholders';
import { decodePng, pngSize } from './png';
import { validateAgainstBundledSchema } from './schema';
import { checkPackageValues, loadPackageValues } from './settings';

export class AppPackageProblems extends Error {
  constructor(
    readonly environment: string,
    readonly problems: readonly string[],
  ) {
    super(`The app package for "${environment}" was not built:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'AppPackageProblems';
  }
}

export interface BuildOptions {
  /** The project folder (holding appPackage/ and env/). */
  root: string;
  environment: string;
  /** Laid over env/.env.<environment>; pass process.env from the command line, {} in tests. */
  processEnv: Record<string, string | undefined>;
  /** Where the zip goes; default <root>/appPackage/build. */
  outDir?: string;
  /** The bot's command patterns; default the ones bot/teamsBot.ts routes on. */
  botCommands?: Readonly<Record<string, RegExp>>;
}

export interface BuiltPackage {
  manifest: Record<string, unknown>;
  zipPath: string;
  zip: Buffer;
}

/** Icon sizes Teams requires (app manifest schema reference, "icons"). */
const ICON_SIZES = { color: 192, outline: 32 } as const;

function checkIcons(root: string, manifest: Record<string, unknown>): { problems: string[]; files: Map<string, Buffer> } {
  const problems: string[] = [];
  const files = new Map<string, Buffer>();
  const icons = (manifest.icons ?? {}) as Record<string, unknown>;
  for (const kind of ['color', 'outline'] as const) {
    const name = icons[kind];
    // Inside the zip the icons sit next to manifest.json: a plain file name, nothing that climbs out.
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*\.png$/.test(name)) {
      problems.push(`/icons/${kind} must be a .png file name next to manifest.json (got ${JSON.stringify(name ?? null)})`);
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(path.join(root, 'appPackage', name));
    } catch {
      problems.push(`/icons/${kind}: appPackage/${name} does not exist (npm run package:icons draws it)`);
      continue;
    }
    const size = pngSize(bytes);
    const wanted = ICON_SIZES[kind];
    if ('problem' in size) problems.push(`appPackage/${name}: ${size.problem}`);
    else if (size.width !== wanted || size.height !== wanted) problems.push(`appPackage/${name} is ${size.width}x${size.height}; the ${kind} icon must be ${wanted}x${wanted}`);
    else if (kind === 'outline') {
      const image = decodePng(bytes);
      if ('problem' in image) problems.push(`appPackage/${name}: ${image.problem}`);
      else {
        let coloured = 0;
        for (let i = 0; i < image.rgba.length; i += 4) {
          if (image.rgba[i + 3]! > 0 && (image.rgba[i]! !== 255 || image.rgba[i + 1]! !== 255 || image.rgba[i + 2]! !== 255)) coloured++;
        }
        if (coloured) problems.push(`appPackage/${name} has ${coloured} visible pixel(s) that are not white: the outline icon must be white on transparent`);
      }
    }
    files.set(name, bytes);
  }
  return { problems, files };
}

export async function buildAppPackage(options: BuildOptions): Promise<BuiltPackage> {
  const { root, environment } = options;
  const loaded = loadPackageValues(root, environment, options.processEnv);
  if (loaded.problems.length) throw new AppPackageProblems(environment, loaded.problems);

  const template = fs.readFileSync(path.join(root, 'appPackage', 'manifest.json'), 'utf8');
  const used = placeholderNames(template);
  const problems = checkPackageValues(used, loaded.values, loaded.file);
  // A wrong setting shows up again in every URL or id made from it: report it once, by its name.
  if (problems.length) throw new AppPackageProblems(environment, problems);
  const { text } = fillPlaceholders(template, loaded.values);
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new AppPackageProblems(environment, [...problems, `appPackage/manifest.json is not valid JSON: ${(error as Error).message}`]);
  }

  const v = loaded.values;
  problems.push(...checkManifest(manifest, { teamsAppId: v.TEAMS_APP_ID ?? '', botId: v.BOT_ID ?? '', entraClientId: v.ENTRA_CLIENT_ID ?? '', entraApiUri: v.ENTRA_API_URI ?? '', domain: v.KLUIS_DOMAIN ?? '' }, options.botCommands ?? BOT_COMMANDS));
  problems.push(...(await validateAgainstBundledSchema(manifest)).map((p) => `schema: ${p}`));
  const icons = checkIcons(root, manifest);
  problems.push(...icons.problems);
  if (problems.length) throw new AppPackageProblems(environment, [...new Set(problems)]);

  const zip = new JSZip();
  // A fixed date keeps the zip byte-for-byte reproducible for the same inputs.
  const date = new Date('2020-01-01T00:00:00Z');
  zip.file('manifest.json', `${JSON.stringify(manifest, null, 2)}\n`, { date });
  for (const [name, bytes] of icons.files) zip.file(name, bytes, { date });
  const bytes = await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE', compressionOptions: { level: 9 } });
  const outDir = options.outDir ?? path.join(root, 'appPackage', 'build');
  fs.mkdirSync(outDir, { recursive: true });
  const zipPath = path.join(outDir, `appPackage.${environment}.zip`);
  fs.writeFileSync(zipPath, bytes);
  return { manifest, zipPath, zip: bytes };
}
