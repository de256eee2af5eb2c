"""Helpers shared by the tests and the benches: one way to wait, one fake clock, and the
Supabase webhook payloads of the policy tests. Nothing here is shipped in the wheel."""
