/* COCO compressed RLE, as pycocotools writes and reads it (maskApi.c rleToString / rleFrString).
 *
 * A mask is h x w; runs alternate 0s and 1s (starting with 0s) over the pixels in column-major
 * (Fortran) order: down the first column, then the second... `counts` is an ASCII string: each
 * run is stored as a difference to the run two before it (from the fourth run on), written in
 * 5-bit chunks, least significant first, each chunk + 48 as one character, 0x20 marking "more
 * chunks follow" and 0x10 on the last chunk the sign.
 *
 * In this module masks are Uint8Array(h * w) in row-major order (index y * w + x), 0 or 1: the
 * layout canvas ImageData uses. Conversion to column order happens here and nowhere else.
 */

/** Runs (Fortran order) of a row-major 0/1 mask. */
export function maskToRuns(mask, h, w) {
  const runs = [];
  let current = 0;
  let count = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0, i = x; y < h; y++, i += w) {
      const v = mask[i] ? 1 : 0;
      if (v !== current) {
        runs.push(count);
        count = 0;
        current = v;
      }
      count++;
    }
  }
  runs.push(count);
  return runs;
}

/** pycocotools' rleToString. */
export function runsToString(runs) {
  let s = "";
  for (let i = 0; i < runs.length; i++) {
    let x = runs[i];
    if (i > 2) x -= runs[i - 2];
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5; // arithmetic shift: negative differences keep their sign
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

/** pycocotools' rleFrString. */
export function stringToRuns(s) {
  const runs = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new Error("RLE counts end in the middle of a number");
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new Error("RLE counts hold a character out of range");
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (runs.length > 2) x += runs[runs.length - 2];
    runs.push(x);
  }
  return runs;
}

/** Row-major 0/1 mask from Fortran-order runs. */
export function runsToMask(runs, h, w) {
  const mask = new Uint8Array(h * w);
  const total = h * w;
  let pos = 0; // position in column-major order
  let value = 0;
  for (const run of runs) {
    if (run < 0 || pos + run > total) throw new Error("RLE runs do not fit the mask size");
    if (value) {
      for (let j = pos; j < pos + run; j++) {
        const x = (j / h) | 0;
        mask[(j - x * h) * w + x] = 1;
      }
    }
    pos += run;
    value ^= 1;
  }
  if (pos !== total) throw new Error("RLE runs do not cover the mask");
  return mask;
}

/** {size: [h, w], counts: "..."} from a row-major 0/1 mask: what pycocotools.mask.encode gives
 * (with counts decoded to str). */
export function encode(mask, h, w) {
  if (mask.length !== h * w) throw new Error("mask length is not h * w");
  return { size: [h, w], counts: runsToString(maskToRuns(mask, h, w)) };
}

/** Row-major 0/1 mask from {size: [h, w], counts}; counts may be the string form or, as in
 * uncompressed COCO RLE, an array of run lengths. */
export function decode(rle) {
  const [h, w] = rle.size;
  const runs = typeof rle.counts === "string" ? stringToRuns(rle.counts) : rle.counts;
  return runsToMask(runs, h, w);
}

/** Number of 1 pixels. */
export function area(mask) {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}
