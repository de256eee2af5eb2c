"""The ``common_schemas`` API of the platform specification, served by camguard.

A thin compatibility layer: every name here re-exports or adapts a camguard implementation so
that services written against ``common_schemas`` run by changing nothing but the install.
"""
