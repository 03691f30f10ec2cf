/**
 * Kluis's icon, drawn in code so it can be regenerated at any size: a safe door ("kluis" is Dutch
 * for safe) — a rounded square frame with a dial and its four spokes. Teams wants a 192x192 colour
 * icon (symbol on a full background) and a 32x32 outline icon (white symbol on transparency);
 * Outlook's ribbon wants 16, 32 and 80 pixel versions of the symbol.
 */
import { type RgbaImage } from './png';

export const ACCENT_COLOUR = '#1F4E79';

type Rgb = readonly [number, number, number];

function hexColour(hex: string): Rgb {
  const value = Number.parseInt(hex.slice(1), 16);
  return [(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff];
}

/** Whether the point (u, v) of the unit square lies on the symbol. */
function onSymbol(u: number, v: number, stroke: number): boolean {
  // Frame: a rounded square ring.
  const half = 0.5 - stroke / 2;
  const corner = 0.14;
  const dx = Math.max(Math.abs(u - 0.5) - (half - corner), 0);
  const dy = Math.max(Math.abs(v - 0.5) - (half - corner), 0);
  const frameDistance = Math.abs(Math.hypot(dx, dy) - corner);
  if (frameDistance <= stroke / 2) return true;
  // Dial: a ring in the middle, with a hub and four spokes.
  const r = Math.hypot(u - 0.5, v - 0.5);
  const dialRadius = 0.22;
  if (Math.abs(r - dialRadius) <= stroke / 2) return true;
  if (r <= stroke * 0.9) return true;
  const onSpoke = (Math.abs(u - 0.5) <= stroke / 3 || Math.abs(v - 0.5) <= stroke / 3) && r <= dialRadius;
  return onSpoke;
}

export interface IconStyle {
  size: number;
  /** Fill behind the symbol; undefined = transparent. */
  background?: string;
  /** Colour of the symbol. */
  symbol: string;
  /** Empty border around the symbol, as a fraction of the size. */
  padding: number;
}

/** Draw the icon, anti-aliased by 4x4 supersampling (coverage becomes alpha). */
export function drawIcon(style: IconStyle): RgbaImage {
  const { size, padding } = style;
  const symbol = hexColour(style.symbol);
  const background = style.background ? hexColour(style.background) : undefined;
  // Thin strokes vanish at 16 px; keep them at least ~1.6 px wide.
  const stroke = Math.max(0.085, 1.6 / (size * (1 - 2 * padding)));
  const rgba = Buffer.alloc(size * size * 4);
  const samples = 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let covered = 0;
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          const u = ((x + (sx + 0.5) / samples) / size - padding) / (1 - 2 * padding);
          const v = ((y + (sy + 0.5) / samples) / size - padding) / (1 - 2 * padding);
          if (u >= 0 && u <= 1 && v >= 0 && v <= 1 && onSymbol(u, v, stroke)) covered++;
        }
      }
      const coverage = covered / (samples * samples);
      const at = (y * size + x) * 4;
      if (background) {
        for (let c = 0; c < 3; c++) rgba[at + c] = Math.round(symbol[c]! * coverage + background[c]! * (1 - coverage));
        rgba[at + 3] = 255;
      } else {
        rgba[at] = symbol[0];
        rgba[at + 1] = symbol[1];
        rgba[at + 2] = symbol[2];
        rgba[at + 3] = Math.round(255 * coverage);
      }
    }
  }
  return { width: size, height: size, rgba };
}

/** The two icons of the app package. */
export const PACKAGE_ICONS = {
  color: { file: 'color.png', style: { size: 192, background: ACCENT_COLOUR, symbol: '#FFFFFF', padding: 0.2 } },
  outline: { file: 'outline.png', style: { size: 32, symbol: '#FFFFFF', padding: 0.03 } },
} as const satisfies Record<string, { file: string; style: IconStyle }>;

/** The Outlook ribbon icons (served by Kluis under /addin/assets/). */
export const RIBBON_ICON_SIZES = [16, 32, 80] as const;
export function ribbonIcon(size: number): RgbaImage {
  return drawIcon({ size, symbol: ACCENT_COLOUR, padding: 0.04 });
}
