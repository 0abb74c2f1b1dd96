/**
 * CRC32C (Castagnoli), as GCS reports it: the big-endian checksum, base64. Written here so that the test server
 * checks the client's data with code of its own, not with the client library's.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** A running CRC32C. */
export class Crc32c {
  private crc = 0xffffffff;

  update(buf: Buffer): this {
    let c = this.crc;
    for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
    this.crc = c;
    return this;
  }

  /** The checksum in GCS's form: 4 big-endian bytes, base64. */
  base64(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((this.crc ^ 0xffffffff) >>> 0);
    return out.toString('base64');
  }
}
