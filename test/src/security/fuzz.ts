/** A small seeded generator of junk: random bytes and mutations of valid encodings. */
export class Junk {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }

  /** xorshift32 in [0, 1). */
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s / 2 ** 32;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  bytes(max: number): Uint8Array {
    const out = new Uint8Array(this.int(max + 1));
    for (let i = 0; i < out.length; i++) out[i] = this.int(256);
    return out;
  }

  /** Flips, inserts, deletes or truncates bytes of a valid message; sometimes splices random bytes. */
  mutate(valid: Uint8Array): Uint8Array {
    const b = Array.from(valid);
    const edits = 1 + this.int(4);
    for (let e = 0; e < edits; e++) {
      const at = this.int(b.length + 1);
      switch (this.int(5)) {
        case 0:
          if (b.length) b[at % b.length] = this.int(256);
          break;
        case 1:
          b.splice(at, 0, this.int(256));
          break;
        case 2:
          b.splice(at, 1 + this.int(4));
          break;
        case 3:
          b.length = Math.min(b.length, at);
          break;
        default:
          b.splice(at, 0, ...this.bytes(16));
      }
    }
    return Uint8Array.from(b);
  }

  /** Half random bytes, half mutations of one of `valid`. */
  payload(valid: Uint8Array[], max = 512): Uint8Array {
    return this.next() < 0.5 ? this.bytes(max) : this.mutate(valid[this.int(valid.length)]!);
  }
}
