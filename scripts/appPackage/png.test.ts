import zlib from 'node:zlib';
import { drawIcon } from './icons';
import { decodePng, encodePng, pngSize } from './png';

/** A PNG whose rows use the given filter types, the way image editors write them. */
function filteredPng(width: number, height: number, rgba: Buffer, filters: number[]): Buffer {
  const plain = encodePng({ width, height, rgba });
  const stride = width * 4;
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const filter = filters[y % filters.length]!;
    const row = Buffer.alloc(stride + 1);
    row[0] = filter;
    for (let x = 0; x < stride; x++) {
      const v = rgba[y * stride + x]!;
      const a = x >= 4 ? rgba[y * stride + x - 4]! : 0;
      const b = y > 0 ? rgba[(y - 1) * stride + x]! : 0;
      const c = y > 0 && x >= 4 ? rgba[(y - 1) * stride + x - 4]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predicted = [0, a, b, (a + b) >> 1, paeth][filter]!;
      row[1 + x] = (v - predicted) & 0xff;
    }
    rows.push(row);
  }
  // Swap the IDAT of the plain encoding for the filtered one (same IHDR, same IEND).
  const idat = zlib.deflateSync(Buffer.concat(rows));
  const header = plain.subarray(0, 33);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(idat.length);
  const end = plain.subarray(plain.length - 12);
  return Buffer.concat([header, length, Buffer.from('IDAT'), idat, Buffer.alloc(4), end]);
}

describe('PNG for the app icons', () => {
  it('reads back what it writes, pixel for pixel', () => {
    const image = drawIcon({ size: 32, symbol: '#FFFFFF', padding: 0.03 });
    const decoded = decodePng(encodePng(image));
    expect(decoded).toEqual(image);
    expect(pngSize(encodePng(image))).toEqual({ width: 32, height: 32 });
  });

  it('undoes every row filter (sub, up, average, Paeth) the way other encoders write them', () => {
    const image = drawIcon({ size: 24, background: '#1F4E79', symbol: '#FFFFFF', padding: 0.1 });
    const decoded = decodePng(filteredPng(24, 24, image.rgba, [1, 2, 3, 4, 0]));
    expect(decoded).toEqual(image);
  });

  it('reports files it cannot read instead of guessing', () => {
    expect(decodePng(Buffer.from('GIF89a not a png at all, just some bytes'))).toEqual({ problem: 'not a PNG file' });
    const png = encodePng(drawIcon({ size: 8, symbol: '#FFFFFF', padding: 0 }));
    const sixteenBit = Buffer.from(png);
    sixteenBit[24] = 16;
    expect(decodePng(sixteenBit)).toEqual({ problem: expect.stringMatching(/^unsupported PNG layout \(bit depth 16/) });
    const corrupt = Buffer.from(png);
    corrupt.fill(0x41, 41, 50);
    expect(decodePng(corrupt)).toEqual({ problem: 'PNG image data is corrupt' });
  });
});
