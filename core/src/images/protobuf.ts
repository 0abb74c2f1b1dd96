/**
 * A protobuf wire-format reader for the few fields of CRIU's images that the project reads: varints as numbers,
 * length-delimited fields as byte ranges (a nested message, a string, or packed numbers). Fixed-width fields are
 * kept as their bytes. Repeated fields appear once per occurrence, in order.
 */

/** One field of a message. */
export interface Field {
  field: number;
  value: number | Buffer;
}

/** Every field of the message in `buf`, in order. Throws on a truncated or malformed message. */
export function readFields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const byte = buf[pos++];
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
  };
  const take = (len: number): Buffer => {
    if (pos + len > buf.length) throw new Error('truncated field');
    const b = buf.subarray(pos, pos + len);
    pos += len;
    return b;
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    switch (key & 7) {
      case 0:
        out.push({ field, value: varint() });
        break;
      case 2:
        out.push({ field, value: take(varint()) });
        break;
      case 1:
        out.push({ field, value: take(8) });
        break;
      case 5:
        out.push({ field, value: take(4) });
        break;
      default:
        throw new Error(`unexpected wire type ${key & 7}`);
    }
  }
  return out;
}

/** The numbers of a packed repeated varint field. */
export function packedVarints(buf: Buffer): number[] {
  const out: number[] = [];
  let value = 0;
  let scale = 1;
  for (const byte of buf) {
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) {
      out.push(value);
      value = 0;
      scale = 1;
    }
  }
  return out;
}

/** The fields of a message by number, the last occurrence of each (for fields that are not repeated). */
export function fieldMap(buf: Buffer): Map<number, number | Buffer> {
  return new Map(readFields(buf).map((f) => [f.field, f.value]));
}

/** Helpers to read a decoded message's fields with their types. */
export class Message {
  private readonly map: Map<number, number | Buffer>;

  constructor(readonly fields: Field[]) {
    this.map = new Map(fields.map((f) => [f.field, f.value]));
  }

  static parse(buf: Buffer): Message {
    return new Message(readFields(buf));
  }

  num(field: number): number | undefined {
    const v = this.map.get(field);
    return typeof v === 'number' ? v : undefined;
  }

  str(field: number): string | undefined {
    const v = this.map.get(field);
    return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
  }

  msg(field: number): Message | undefined {
    const v = this.map.get(field);
    return Buffer.isBuffer(v) ? Message.parse(v) : undefined;
  }

  /** Every occurrence of a repeated message field. */
  msgs(field: number): Message[] {
    return this.fields.filter((f) => f.field === field && Buffer.isBuffer(f.value)).map((f) => Message.parse(f.value as Buffer));
  }

  /** A repeated uint32/uint64 field, packed or not. */
  nums(field: number): number[] {
    const out: number[] = [];
    for (const f of this.fields) {
      if (f.field !== field) continue;
      if (typeof f.value === 'number') out.push(f.value);
      else out.push(...packedVarints(f.value));
    }
    return out;
  }
}
