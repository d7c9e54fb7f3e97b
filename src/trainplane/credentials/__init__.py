"""The credentials file: tenants, their identities and the keys that act for them.

Written by `trainplane credentials`, read by the server's authenticators. Imports only the stdlib and
`trainplane.domain`, so the CLI can manage the file without the server stack.
"""
