// SPDX-License-Identifier: Apache-2.0
// png.mjs: a small test photo made here (no file shipped): an RGB PNG of a
// face on a blue background, encoded with node's zlib.
import { deflateSync } from 'node:zlib';

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A size×size PNG: a face (skin disc, two eyes, a smile) on a gradient. */
export function facePng(size = 128) {
  const raw = Buffer.alloc((size * 3 + 1) * size);
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    const row = y * (size * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      let r = 40 + Math.round((x / size) * 60);
      let g = 90 + Math.round((y / size) * 80);
      let b = 200;
      const dx = x - c;
      const dy = y - c;
      if (dx * dx + dy * dy < (size * 0.38) ** 2) { r = 238; g = 190; b = 150; }
      for (const ex of [-0.14, 0.14]) {
        const ddx = x - (c + ex * size);
        const ddy = y - (c - 0.1 * size);
        if (ddx * ddx + ddy * ddy < (size * 0.05) ** 2) { r = 30; g = 30; b = 40; }
      }
      const my = y - (c + 0.08 * size);
      const md = Math.sqrt(dx * dx + my * my);
      if (my > 0 && Math.abs(md - size * 0.16) < size * 0.025) { r = 170; g = 40; b = 60; }
      const p = row + 1 + x * 3;
      raw[p] = r; raw[p + 1] = g; raw[p + 2] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8;  // bit depth
  ihdr[9] = 2;  // colour type: RGB
  ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
