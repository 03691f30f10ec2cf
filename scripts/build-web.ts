/**
 * Builds the Teams tab (tab/) and the Outlook add-in (addin/) into dist/web: one esbuild bundle per
 * page (tab/main.ts, addin/taskpane.ts, addin/dialog.ts), and the HTML, CSS and images copied as
 * they are. The pages carry no inline script or style (their CSP forbids both), so every page
 * loads its own bundle and stylesheet. Run by `npm start` and `npm test` (scripts/ensure-installed.js),
 * by tests that open the pages, or by hand: `npm run build:web`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(__dirname, '..');
export const WEB_OUT_DIR = path.join(root, 'dist', 'web');

const ENTRIES: Record<string, string> = {
  'tab/main': 'tab/main.ts',
  'addin/taskpane': 'addin/taskpane.ts',
  'addin/dialog': 'addin/dialog.ts',
};

const COPIED = /\.(html|css|png|svg|ico)$/;

function copyStatic(area: string, out: string): void {
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const from = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(from);
      else if (COPIED.test(entry.name)) {
        const to = path.join(out, path.relative(root, from));
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.copyFileSync(from, to);
      }
    }
  };
  walk(path.join(root, area));
}

function filesUnder(dir: string): string[] {
  const files: string[] = [];
  const list = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) list(path.join(d, e.name));
      else files.push(path.relative(dir, path.join(d, e.name)));
    }
  };
  if (fs.existsSync(dir)) list(dir);
  return files.sort();
}

/**
 * Builds into a private folder, then moves each file into place with rename (atomic per file), so
 * a running Kluis, or another test building at the same time, never serves a half-written file.
 */
export async function buildWeb(out = WEB_OUT_DIR): Promise<{ out: string; files: string[] }> {
  const staging = `${out}.staging-${process.pid}-${Date.now()}`;
  fs.mkdirSync(staging, { recursive: true });
  try {
    await build({
      entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, path.join(root, file)])),
      outdir: staging,
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: ['chrome110', 'edge110', 'safari16', 'firefox110'],
      minify: true,
      sourcemap: false,
      legalComments: 'none',
      logLevel: 'warning',
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    for (const area of ['tab', 'addin']) copyStatic(area, staging);
    // One stylesheet for both: the add-in uses the tab's look.
    fs.copyFileSync(path.join(root, 'tab', 'styles.css'), path.join(staging, 'addin', 'styles.css'));
    const files = filesUnder(staging);
    for (const file of files) {
      fs.mkdirSync(path.dirname(path.join(out, file)), { recursive: true });
      fs.renameSync(path.join(staging, file), path.join(out, file));
    }
    return { out, files };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

if (require.main === module) {
  buildWeb().then(
    ({ out, files }) => console.log(`kluis: built ${files.length} web files into ${path.relative(root, out)}`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
