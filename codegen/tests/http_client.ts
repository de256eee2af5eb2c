/**
 * Node side of the HTTP contract check (driven by tests/integration/test_contracts_http.py).
 *
 * Calls a running camguard web server through the generated client: prints the OpenAPI
 * document it serves, and the ApiError an unmounted endpoint answers with, as one JSON line.
 *
 *   node build/tests/http_client.js --base-url http://127.0.0.1:6066
 */
import { parseArgs } from "node:util";

import { ApiError, getOpenapiJson, getPolicies, type GetOpenapiJsonResult } from "../generated/http/client";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { "base-url": { type: "string" } } });
  const baseUrl = values["base-url"];
  if (baseUrl === undefined) {
    throw new Error("usage: http_client --base-url URL");
  }
  const document: GetOpenapiJsonResult = await getOpenapiJson({ baseUrl });
  let refused: { status: number; operationId: string } | null = null;
  try {
    await getPolicies({ baseUrl }, { query: { org_id: "org 1/x" } });
  } catch (err) {
    if (!(err instanceof ApiError)) {
      throw err;
    }
    refused = { status: err.status, operationId: err.operationId };
  }
  process.stdout.write(`${JSON.stringify({ document, refused })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`http_client failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
