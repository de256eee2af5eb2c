"""Contracts: Avro to TypeScript, OpenAPI export, schema-evolution checks."""
