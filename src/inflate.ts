/**
 * Raw DEFLATE (RFC 1951) decoding, for text the package carries compressed: the sender's script, which every run
 * loads with the package and only a version's first hand-off in a spool directory reads. Compressed, it is half the
 * characters for a run's parser to scan. The decoder follows zlib's `puff.c`: small and slow (a few milliseconds for
 * the script), which is paid once per version; it refuses what is not valid DEFLATE with an error, never a hang.
 *
 * @module
 */

/** A canonical Huffman code: how many codes there are of each length, and the symbols in the codes' order. */
interface Huffman {
  counts: Uint16Array;
  symbols: Uint16Array;
}

/** The longest code DEFLATE has. */
const MAX_BITS = 15;

/**
 * What length codes 257-285 and distance codes 0-29 stand for: each one's least value, and how many extra bits
 * follow it to add to that (RFC 1951, 3.2.5). Each base is the one before plus the values its extra bits reach;
 * length code 285 is 258 exactly.
 */
function lengthsAndDistances(): { base: number[]; extra: number[] }[] {
  const table = (codes: number, first: number, extraBits: (code: number) => number) => {
    const extra = Array.from({ length: codes }, (_, code) => extraBits(code));
    const base = [first];
    for (let code = 1; code < codes; code++) base.push(base[code - 1] + (1 << extra[code - 1]));
    return { base, extra };
  };
  const lengths = table(29, 3, (code) => code < 8 || code === 28 ? 0 : (code >> 2) - 1);
  lengths.base[28] = 258;
  return [lengths, table(30, 1, (code) => code < 4 ? 0 : (code >> 1) - 1)];
}

/** The order in which a dynamic block gives the lengths of the code-length code. */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** Refuses input that is not valid DEFLATE. */
function invalid(why: string): never {
  throw new RangeError(`Cannot inflate: ${why}`);
}

/**
 * The canonical Huffman code of these code lengths (0: the symbol has no code). An over-subscribed set of lengths
 * is refused; an incomplete one is kept, and a code it lacks is refused when read.
 */
function huffman(lengths: ArrayLike<number>): Huffman {
  const counts = new Uint16Array(MAX_BITS + 1);
  for (let symbol = 0; symbol < lengths.length; symbol++) counts[lengths[symbol]]++;
  let left = 1;
  for (let length = 1; length <= MAX_BITS; length++) {
    left = left * 2 - counts[length];
    if (left < 0) invalid("a Huffman code is over-subscribed");
  }
  const offsets = new Uint16Array(MAX_BITS + 2);
  for (let length = 1; length <= MAX_BITS; length++) offsets[length + 1] = offsets[length] + counts[length];
  const symbols = new Uint16Array(lengths.length);
  for (let symbol = 0; symbol < lengths.length; symbol++) {
    if (lengths[symbol] !== 0) symbols[offsets[lengths[symbol]]++] = symbol;
  }
  return { counts, symbols };
}

/** The fixed codes of block type 1 (RFC 1951, 3.2.6), made on first use. */
let fixedCodes: [Huffman, Huffman] | undefined;

function fixed(): [Huffman, Huffman] {
  if (fixedCodes) return fixedCodes;
  const literals = Array.from(
    { length: 288 },
    (_, symbol) => symbol < 144 ? 8 : symbol < 256 ? 9 : symbol < 280 ? 7 : 8,
  );
  return fixedCodes = [huffman(literals), huffman(new Array(30).fill(5))];
}

/**
 * Decodes raw DEFLATE data (no zlib or gzip header), as `CompressionStream("deflate-raw")` writes it. For the
 * package's own data: the output is not bounded.
 *
 * @param input The compressed bytes.
 * @returns The bytes they hold.
 * @throws {RangeError} Where the input is not valid DEFLATE, or ends before its last block does.
 * @example
 * ```ts
 * import { inflateRaw } from "./inflate.ts";
 * inflateRaw(new Uint8Array([0xcb, 0xc8, 0x04, 0x00])); // Uint8Array [104, 105]: "hi"
 * ```
 */
export function inflateRaw(input: Uint8Array): Uint8Array {
  let position = 0;
  let bitBuffer = 0;
  let bitCount = 0;
  let output = new Uint8Array(input.length * 4 + 64);
  let size = 0;
  const bits = (need: number): number => {
    let value = bitBuffer;
    while (bitCount < need) {
      if (position >= input.length) invalid("the data ends early");
      value |= input[position++] << bitCount;
      bitCount += 8;
    }
    bitBuffer = value >>> need;
    bitCount -= need;
    return value & ((1 << need) - 1);
  };
  /** Makes room in the output for `more` bytes. */
  const room = (more: number) => {
    if (size + more <= output.length) return;
    const larger = new Uint8Array(Math.max(output.length * 2, size + more));
    larger.set(output);
    output = larger;
  };
  const decode = ({ counts, symbols }: Huffman): number => {
    // A code's bits, read one at a time (RFC 1951 packs a code from its first bit), at most 15 taken in at once.
    while (bitCount < MAX_BITS && position < input.length) {
      bitBuffer |= input[position++] << bitCount;
      bitCount += 8;
    }
    for (let length = 1, code = 0, first = 0, index = 0; length <= MAX_BITS; length++) {
      if (bitCount === 0) invalid("the data ends early");
      code |= bitBuffer & 1;
      bitBuffer >>>= 1;
      bitCount--;
      const count = counts[length];
      if (code - first < count) return symbols[index + code - first];
      index += count;
      first = (first + count) * 2;
      code *= 2;
    }
    return invalid("a code is not in its Huffman code");
  };
  const stored = () => {
    // To the next byte: the bits left of this one are dropped, the whole bytes read ahead given back.
    position -= bitCount >> 3;
    [bitBuffer, bitCount] = [0, 0];
    if (position + 4 > input.length) invalid("the data ends early");
    const length = input[position] | (input[position + 1] << 8);
    const complement = input[position + 2] | (input[position + 3] << 8);
    if (length !== (~complement & 0xffff)) invalid("a stored block's length does not match its complement");
    position += 4;
    if (position + length > input.length) invalid("the data ends early");
    room(length);
    output.set(input.subarray(position, position + length), size);
    [position, size] = [position + length, size + length];
  };
  const [lengthTable, distanceTable] = lengthsAndDistances();
  const codes = ([lengthCode, distanceCode]: [Huffman, Huffman]) => {
    for (let symbol = decode(lengthCode); symbol !== 256; symbol = decode(lengthCode)) {
      if (symbol < 256) {
        room(1);
        output[size++] = symbol;
        continue;
      }
      symbol -= 257;
      if (symbol >= 29) invalid("a length code is out of range");
      const length = lengthTable.base[symbol] + bits(lengthTable.extra[symbol]);
      const code = decode(distanceCode);
      if (code >= 30) invalid("a distance code is out of range");
      const distance = distanceTable.base[code] + bits(distanceTable.extra[code]);
      if (distance > size) invalid("a distance reaches before the start");
      room(length);
      for (const end = size + length; size < end; size++) output[size] = output[size - distance];
    }
  };
  const dynamic = (): [Huffman, Huffman] => {
    const literals = bits(5) + 257;
    const distances = bits(5) + 1;
    const codeLengthCount = bits(4) + 4;
    if (literals > 286 || distances > 30) invalid("a block has too many codes");
    const codeLengths = new Uint8Array(19);
    for (let i = 0; i < codeLengthCount; i++) codeLengths[CODE_LENGTH_ORDER[i]] = bits(3);
    const codeLengthCode = huffman(codeLengths);
    const lengths = new Uint8Array(literals + distances);
    for (let index = 0; index < lengths.length;) {
      const symbol = decode(codeLengthCode);
      if (symbol < 16) {
        lengths[index++] = symbol;
        continue;
      }
      if (symbol === 16 && index === 0) invalid("a repeat has no length before it");
      const repeated = symbol === 16 ? lengths[index - 1] : 0;
      const times = symbol === 16 ? 3 + bits(2) : symbol === 17 ? 3 + bits(3) : 11 + bits(7);
      if (index + times > lengths.length) invalid("a repeat runs past the block's codes");
      lengths.fill(repeated, index, index + times);
      index += times;
    }
    if (lengths[256] === 0) invalid("a block has no end-of-block code");
    return [huffman(lengths.subarray(0, literals)), huffman(lengths.subarray(literals))];
  };
  for (let last = 0; !last;) {
    last = bits(1);
    const type = bits(2);
    if (type === 0) stored();
    else if (type === 1) codes(fixed());
    else if (type === 2) codes(dynamic());
    else invalid("a block's type is 3, which is reserved");
  }
  return output.slice(0, size);
}

/** Base64's digits, in the order of their values. */
const BASE64_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * The ASCII text that base64 of raw DEFLATE data holds: how the package carries the sender's script (ASCII: its
 * build checks). Decoded here, not with `atob` and `TextDecoder`, which a program may have removed or replaced (a
 * polyfill gone wrong). Its bytes are read as characters one for one: a byte past ASCII gives a character of
 * Latin-1, not of UTF-8 (the caller checks the text's UTF-8 size).
 *
 * @param base64 The compressed text's bytes, in base64.
 * @returns The text.
 * @throws {RangeError} Where the base64 or the DEFLATE data are not valid.
 * @example
 * ```ts
 * import { inflatedText } from "./inflate.ts";
 * inflatedText("y8gEAA=="); // "hi"
 * ```
 */
export function inflatedText(base64: string): string {
  const values = new Uint8Array(128).fill(64);
  for (let value = 0; value < 64; value++) values[BASE64_DIGITS.charCodeAt(value)] = value;
  const digit = (i: number) => {
    const value = i < digits ? values[base64.charCodeAt(i)] ?? 64 : 0;
    return value < 64 ? value : invalid(`base64 has no digit ${JSON.stringify(base64[i])}`);
  };
  const digits = base64.length - (base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0);
  const compressed = new Uint8Array(Math.floor((digits * 3) / 4));
  // Four digits are three bytes (the last group may be short: its missing digits count as zeros).
  for (let i = 0, at = 0; i < digits; i += 4) {
    const group = (digit(i) << 18) | (digit(i + 1) << 12) | (digit(i + 2) << 6) | digit(i + 3);
    compressed[at++] = group >> 16;
    if (at < compressed.length) compressed[at++] = group >> 8;
    if (at < compressed.length) compressed[at++] = group;
  }
  const bytes = inflateRaw(compressed);
  let text = "";
  for (let start = 0; start < bytes.length; start += 4096) {
    text += String.fromCharCode.apply(undefined, bytes.subarray(start, start + 4096) as unknown as number[]);
  }
  return text;
}
