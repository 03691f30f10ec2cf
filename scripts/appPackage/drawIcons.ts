/**
 * `npm run package:icons`: (re)draw appPackage/color.png and appPackage/outline.png, and with
 * `--ribbon <folder>` also the Outlook ribbon icons icon-16.png, icon-32.png and icon-80.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import { drawIcon, PACKAGE_ICONS, RIBBON_ICON_SIZES, ribbonIcon } from './icons';
import { encodePng } from './png';

const root = path.resolve(__dirname, '..', '..');
const args = process.argv.slice(2);

for (const icon of Object.values(PACKAGE_ICONS)) {
  const file = path.join(root, 'appPackage', icon.file);
  fs.writeFileSync(file, encodePng(drawIcon(icon.style)));
  console.log(`kluis: wrote ${path.relative(root, file)} (${icon.style.size}x${icon.style.size})`);
}

const ribbonAt = args.indexOf('--ribbon');
if (ribbonAt >= 0) {
  const folder = args[ribbonAt + 1];
  if (!folder) {
    console.error('kluis: --ribbon needs a folder, e.g. --ribbon addin/assets');
    process.exit(2);
  }
  fs.mkdirSync(path.resolve(root, folder), { recursive: true });
  for (const size of RIBBON_ICON_SIZES) {
    const file = path.resolve(root, folder, `icon-${size}.png`);
    fs.writeFileSync(file, encodePng(ribbonIcon(size)));
    console.log(`kluis: wrote ${path.relative(root, file)} (${size}x${size})`);
  }
}
