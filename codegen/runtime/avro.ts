/**
 * Avro single-object encoding on avsc, for the generated camguard types.
 *
 * A message is `C3 01`, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's
 * parsing canonical form, then the Avro binary body (the Avro specification's single-object
 * encoding; streams/codec.py is the Python side). Writer schemas are the generated current and
 * kept (history) versions; data written with a kept version is resolved into the current one.
 *
 * Unions are unwrapped (`wrapUnions: false`) and no logical-type classes are registered, so
 * decoded values have exactly the shapes of codegen/generated/avro/types.ts (see
 * codegen/avro_ts.py for the mapping): timestamp-millis is a number of epoch milliseconds.
 *
 * Hand-written; not generated.
 */
import * as avsc from "avsc";

import {
  CURRENT_SCHEMAS,
  HISTORY_SCHEMAS,
  type WriterSchema,
} from "../generated/avro/schemas";
import type { RecordInputs, RecordName, RecordTypes } from "../generated/avro/types";

/** The two marker bytes that open every single-object-encoded message. */
export const MAGIC: Buffer = Buffer.from([0xc3, 0x01]);
/** Marker plus fingerprint. */
export const HEADER_SIZE = 10;

/** Every decoding or encoding error; `reason` matches the Python codec's dead-letter reasons. */
export class CodecError extends Error {
  readonly reason: string = "codec_error";
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The bytes do not start with C3 01: the producer does not use camguard's wire format. */
export class NotAvroError extends CodecError {
  override readonly reason = "not_avro";
}

/** The writer fingerprint is not a schema this build knows: regenerate with the newer schema. */
export class UnknownFingerprintError extends CodecError {
  override readonly reason = "unknown_fingerprint";
  constructor(readonly fingerprint: string) {
    super(`unknown writer schema fingerprint ${fingerprint}`);
  }
}

/** The body ended early or carried trailing bytes. */
export class TruncatedBodyError extends CodecError {
  override readonly reason = "truncated";
}

/** A valid message of another record type than the caller expected. */
export class SchemaMismatchError extends CodecError {
  override readonly reason = "wrong_schema";
}

/** A value does not match its schema when encoding; `paths` names the offending fields. */
export class InvalidRecordError extends CodecError {
  override readonly reason = "invalid";
  constructor(
    message: string,
    readonly paths: readonly string[],
  ) {
    super(message);
  }
}

/**
 * avsc's canonical form of a schema hashes to another fingerprint than the generated one:
 * the avsc version and the generator disagree on the parsing canonical form. Do not use this
 * build; report it with both values.
 */
export class FingerprintMismatchError extends CodecError {
  override readonly reason = "fingerprint_mismatch";
}

const EMPTY64 = 0xc15d213aa4d7a795n;
const CRC_TABLE: readonly bigint[] = Array.from({ length: 256 }, (_, i) => {
  let fp = BigInt(i);
  for (let j = 0; j < 8; j++) {
    fp = (fp >> 1n) ^ (EMPTY64 & -(fp & 1n));
  }
  return fp;
});

/** CRC-64-AVRO (the Avro specification's Rabin fingerprint) of `data`. */
export function crc64Avro(data: Uint8Array): bigint {
  let fp = EMPTY64;
  for (const byte of data) {
    fp = (fp >> 8n) ^ (CRC_TABLE[Number((fp ^ BigInt(byte)) & 0xffn)] ?? 0n);
  }
  return fp;
}

/**
 * The fingerprint of an avsc type, as hex of the 8 little-endian wire bytes. avsc's `schema()`
 * without options is the parsing canonical form (full names, only the attributes that matter).
 */
export function fingerprintOf(type: avsc.Type): string {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(crc64Avro(Buffer.from(JSON.stringify(type.schema()), "utf8")));
  return out.toString("hex");
}

/** A decoded message: the record name narrows the value's type. */
export type Decoded = {
  [N in RecordName]: { name: N; writerVersion: string; value: RecordTypes[N] };
}[RecordName];

interface Writer {
  readonly entry: WriterSchema;
  readonly reader: avsc.Type;
  /** Null when the writer is the current schema itself. */
  readonly resolver: avsc.Resolver | null;
}

function parse(entry: WriterSchema): avsc.Type {
  // avsc's bundled typings of schema JSON are incomplete (no doc on fixed, ...); the generated
  // schemas are the .avsc files verbatim, which avsc parses.
  const type = avsc.Type.forSchema(entry.schema as avsc.Schema, { wrapUnions: false });
  const computed = fingerprintOf(type);
  if (computed !== entry.fingerprint) {
    throw new FingerprintMismatchError(
      `${entry.name} ${entry.version}: avsc fingerprint ${computed}, generated ${entry.fingerprint}`,
    );
  }
  return type;
}

/** Encoder and decoder of camguard messages; construct once and share. */
export class AvroCodec {
  private readonly current = new Map<RecordName, { type: avsc.Type; header: Buffer }>();
  private readonly writers = new Map<string, Writer>();

  constructor(
    current: { readonly [N in RecordName]: WriterSchema } = CURRENT_SCHEMAS,
    history: readonly WriterSchema[] = HISTORY_SCHEMAS,
  ) {
    for (const entry of Object.values(current)) {
      const type = parse(entry);
      const header = Buffer.concat([MAGIC, Buffer.from(entry.fingerprint, "hex")]);
      this.current.set(entry.name, { type, header });
      this.writers.set(entry.fingerprint, { entry, reader: type, resolver: null });
    }
    for (const entry of history) {
      if (this.writers.has(entry.fingerprint)) {
        continue; // unchanged since it was kept
      }
      const reader = this.currentOf(entry.name).type;
      this.writers.set(entry.fingerprint, {
        entry,
        reader,
        resolver: reader.createResolver(parse(entry)),
      });
    }
  }

  /** Fingerprint (hex of the wire bytes) of the current schema `name`. */
  fingerprint(name: RecordName): string {
    return this.currentOf(name).header.subarray(2).toString("hex");
  }

  /** Encode `value` with the current schema `name`; omitted defaulted fields get defaults. */
  encode<N extends RecordName>(name: N, value: RecordInputs[N]): Buffer {
    const { type, header } = this.currentOf(name);
    const paths: string[] = [];
    const valid = type.isValid(value, {
      errorHook: (path: string[]) => paths.push(path.join(".") || "(record)"),
    });
    if (!valid) {
      throw new InvalidRecordError(`${name}: invalid ${paths.join(", ")}`, paths);
    }
    return Buffer.concat([header, type.toBuffer(value)]);
  }

  /** Decode any known message into the current schema of its record type. */
  decode(data: Buffer): Decoded {
    if (data.length < HEADER_SIZE || data[0] !== 0xc3 || data[1] !== 0x01) {
      throw new NotAvroError("missing Avro single-object marker C3 01");
    }
    const fingerprint = data.subarray(2, HEADER_SIZE).toString("hex");
    const writer = this.writers.get(fingerprint);
    if (writer === undefined) {
      throw new UnknownFingerprintError(fingerprint);
    }
    let decoded: { value: unknown; offset: number };
    try {
      decoded = writer.reader.decode(data, HEADER_SIZE, writer.resolver ?? undefined);
    } catch (err) {
      throw new TruncatedBodyError(`${writer.entry.name}: body unreadable (${String(err)})`);
    }
    if (decoded.offset !== data.length) {
      const detail = decoded.offset < 0 ? "ended early" : "has trailing bytes";
      throw new TruncatedBodyError(`${writer.entry.name}: body ${detail}`);
    }
    // The reader type is the generated schema of `name`, so the value has its generated shape.
    return {
      name: writer.entry.name,
      writerVersion: writer.entry.version,
      value: decoded.value,
    } as Decoded;
  }

  /** Decode a message that must be of record type `name`. */
  decodeAs<N extends RecordName>(name: N, data: Buffer): RecordTypes[N] {
    const decoded = this.decode(data);
    if (decoded.name !== name) {
      throw new SchemaMismatchError(`expected ${name}, got ${decoded.name}`);
    }
    return decoded.value as RecordTypes[N];
  }

  /** True when `value` is a valid decoded or encodable `name` (avsc's schema check). */
  isValid<N extends RecordName>(name: N, value: unknown): value is RecordTypes[N] {
    return this.currentOf(name).type.isValid(value);
  }

  private currentOf(name: RecordName): { type: avsc.Type; header: Buffer } {
    const found = this.current.get(name);
    if (found === undefined) {
      throw new SchemaMismatchError(`no current schema named ${name}`);
    }
    return found;
  }
}
