/**
 * Node side of the contract round trip (driven by tests/integration/test_contracts_node.py).
 *
 * Consumes `--expect` messages that the Python service produced on `--input` (header `record`
 * names the record type), decodes each with the generated runtime, checks it against the
 * generated types, and echoes it re-encoded to `--output`; then produces one new Frame (header
 * `source: node`) to `--output` for Python to consume. Prints a JSON summary on stdout and
 * exits 1 on the first mismatch.
 *
 *   node build/tests/roundtrip.js --brokers HOST:PORT --input T --output U --expect N
 */
import { strict as assert } from "node:assert";
import { parseArgs } from "node:util";

import { Kafka, logLevel } from "kafkajs";

import { CURRENT_SCHEMAS } from "../generated/avro/schemas";
import type { FrameInput, RecordName } from "../generated/avro/types";
import { AvroCodec, type Decoded } from "../runtime/avro";

const codec = new AvroCodec();

/** The keys every decoded value must have: exactly the schema's fields, in order. */
function fieldNames(name: RecordName): string[] {
  const schema = CURRENT_SCHEMAS[name].schema as { fields: { name: string }[] };
  return schema.fields.map((f) => f.name);
}

/** Checks that only hold if the generated types describe what avsc decodes. */
function checkShape(decoded: Decoded, key: string | undefined): void {
  assert.ok(codec.isValid(decoded.name, decoded.value), `${decoded.name} fails avsc validation`);
  assert.deepEqual(Object.keys(decoded.value), fieldNames(decoded.name));
  switch (decoded.name) {
    case "Frame":
    case "AnonymizedFrame": {
      const frame = decoded.value;
      assert.ok(Buffer.isBuffer(frame.data), "bytes decode as Buffer");
      assert.equal(typeof frame.captured_at, "number", "timestamp-millis decodes as epoch ms");
      assert.ok(["JPEG", "PNG"].includes(frame.encoding));
      assert.equal(frame.camera_id, key);
      if (decoded.name === "AnonymizedFrame") {
        const box = decoded.value.boxes[0];
        assert.ok(box !== undefined && (box.kind === "FACE" || box.kind === "PLATE"));
      }
      break;
    }
    case "CameraEvent": {
      const attributes: Record<string, string> = decoded.value.attributes;
      assert.equal(typeof attributes, "object", "a map decodes as a plain object");
      break;
    }
    case "CameraHealth": {
      const lastSeen: number | null = decoded.value.last_seen;
      assert.ok(lastSeen === null || typeof lastSeen === "number");
      break;
    }
    case "PolicyChange": {
      const before = decoded.value.old;
      assert.ok(before === null || typeof before.version === "number", "nullable record");
      break;
    }
    case "DeadLetter": {
      const value = decoded.value.value;
      assert.ok(value === null || Buffer.isBuffer(value), "nullable bytes");
      break;
    }
    default:
      break;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: "string" },
      input: { type: "string" },
      output: { type: "string" },
      expect: { type: "string" },
      "timeout-ms": { type: "string", default: "60000" },
    },
  });
  const { brokers, input, output, expect } = values;
  if (!brokers || !input || !output || !expect) {
    throw new Error("usage: roundtrip --brokers B --input T --output U --expect N");
  }
  const expected = Number(expect);
  const kafka = new Kafka({ clientId: "camguard-roundtrip", brokers: [brokers], logLevel: logLevel.ERROR });
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `camguard-roundtrip-${input}` });
  await Promise.all([producer.connect(), consumer.connect()]);
  const counts: Record<string, number> = {};
  try {
    await consumer.subscribe({ topic: input, fromBeginning: true });
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out with ${JSON.stringify(counts)}`)),
        Number(values["timeout-ms"]),
      );
      let seen = 0;
      void consumer.run({
        eachMessage: async ({ message }) => {
          try {
            assert.ok(message.value !== null, "a value");
            const decoded = codec.decode(message.value);
            assert.equal(decoded.name, message.headers?.record?.toString(), "record type");
            checkShape(decoded, message.key?.toString());
            counts[decoded.name] = (counts[decoded.name] ?? 0) + 1;
            await producer.send({
              topic: output,
              messages: [
                {
                  key: message.key,
                  value: codec.encode(decoded.name, decoded.value),
                  headers: { source: "echo", record: decoded.name },
                },
              ],
            });
            seen += 1;
            if (seen === expected) {
              clearTimeout(timer);
              resolve();
            }
          } catch (err) {
            clearTimeout(timer);
            reject(err);
          }
        },
      });
    });
    await done;
    const frame: FrameInput = {
      camera_id: "cam-node",
      captured_at: 1_700_000_000_123,
      seq: 42,
      encoding: "PNG",
      width: 2,
      height: 1,
      data: Buffer.from([0x89, 0x50, 0x4e, 0x47]),
    };
    await producer.send({
      topic: output,
      messages: [
        { key: frame.camera_id, value: codec.encode("Frame", frame), headers: { source: "node" } },
      ],
    });
  } finally {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
  }
  process.stdout.write(`${JSON.stringify({ decoded: counts, frame: codec.fingerprint("Frame") })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`roundtrip failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
