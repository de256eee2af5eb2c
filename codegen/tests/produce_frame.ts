/**
 * Produce one camera Frame from Node, for the Python worker's frames agent to anonymize
 * (driven by tests/integration/test_contracts_node.py).
 *
 * Reads the encoded image at `--image`, builds a `FrameInput` with the generated types, encodes
 * it with the generated runtime and sends it to `--topic` keyed by the camera id, as a gateway
 * would. Prints a JSON summary on stdout and exits 1 on any error.
 *
 *   node build/tests/produce_frame.js --brokers HOST:PORT --topic camera.frames \
 *     --camera cam-1 --seq 1 --width 512 --height 512 --image frame.jpg [--encoding JPEG]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { Kafka, logLevel } from "kafkajs";

import { type FrameEncoding, FrameEncodingSymbols, type FrameInput } from "../generated/avro/types";
import { AvroCodec } from "../runtime/avro";

const USAGE =
  "usage: produce_frame --brokers B --topic T --camera C --seq N --width W --height H --image F";

function integer(name: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`--${name} must be a non-negative integer, got ${String(text)}\n${USAGE}`);
  }
  return value;
}

function encodingOf(text: string): FrameEncoding {
  const found = FrameEncodingSymbols.find((symbol) => symbol === text);
  if (found === undefined) {
    throw new Error(`--encoding must be one of ${FrameEncodingSymbols.join(", ")}, got ${text}`);
  }
  return found;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: "string" },
      topic: { type: "string" },
      camera: { type: "string" },
      org: { type: "string" },
      seq: { type: "string" },
      width: { type: "string" },
      height: { type: "string" },
      image: { type: "string" },
      encoding: { type: "string", default: "JPEG" },
    },
  });
  const { brokers, topic, camera, image } = values;
  if (!brokers || !topic || !camera || !image) {
    throw new Error(USAGE);
  }
  const frame: FrameInput = {
    camera_id: camera,
    org_id: values.org ?? null,
    captured_at: Date.now(),
    seq: integer("seq", values.seq),
    encoding: encodingOf(values.encoding),
    width: integer("width", values.width),
    height: integer("height", values.height),
    data: readFileSync(image),
  };
  const codec = new AvroCodec();
  const value = codec.encode("Frame", frame);
  const kafka = new Kafka({
    clientId: "camguard-produce-frame",
    brokers: [brokers],
    logLevel: logLevel.ERROR,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const [sent] = await producer.send({
      topic,
      acks: -1,
      messages: [{ key: frame.camera_id, value, headers: { source: "node" } }],
    });
    const summary = {
      topic,
      partition: sent?.partition,
      offset: sent?.baseOffset,
      camera_id: frame.camera_id,
      seq: frame.seq,
      bytes: frame.data.length,
      fingerprint: codec.fingerprint("Frame"),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await producer.disconnect();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`produce_frame failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
