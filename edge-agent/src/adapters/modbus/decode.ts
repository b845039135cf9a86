/** Pure decoding of Modbus register words into engineering values. */

export type RegisterKind = 'holding' | 'input' | 'coil' | 'discrete';
export type DataType = 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'bool';
/** `big`: high word first (ABCD, the Modbus convention); `little`: low word first (CDAB). */
export type WordOrder = 'big' | 'little';

/** Registers (16-bit words) a data type occupies; bits count as one. */
export function wordsOf(type: DataType): number {
  return type === 'int32' || type === 'uint32' || type === 'float32' ? 2 : 1;
}

const scratch = new DataView(new ArrayBuffer(4));

/** Decodes the value at `offset` of `words` (unsigned 16-bit register contents). */
export function decodeWords(words: ArrayLike<number>, offset: number, type: DataType, order: WordOrder): number {
  const w0 = words[offset]! & 0xffff;
  if (type === 'uint16') return w0;
  if (type === 'int16') return w0 >= 0x8000 ? w0 - 0x10000 : w0;
  if (type === 'bool') return w0 === 0 ? 0 : 1;
  const w1 = words[offset + 1]! & 0xffff;
  const [hi, lo] = order === 'big' ? [w0, w1] : [w1, w0];
  scratch.setUint16(0, hi);
  scratch.setUint16(2, lo);
  if (type === 'uint32') return scratch.getUint32(0);
  if (type === 'int32') return scratch.getInt32(0);
  return scratch.getFloat32(0);
}

/** Register words of a value, the inverse of {@link decodeWords} (for test servers and writes). */
export function encodeWords(value: number, type: DataType, order: WordOrder): number[] {
  if (wordsOf(type) === 1) return [type === 'bool' ? (value ? 1 : 0) : value & 0xffff];
  if (type === 'float32') scratch.setFloat32(0, value);
  else if (type === 'int32') scratch.setInt32(0, value);
  else scratch.setUint32(0, value);
  const hi = scratch.getUint16(0);
  const lo = scratch.getUint16(2);
  return order === 'big' ? [hi, lo] : [lo, hi];
}
