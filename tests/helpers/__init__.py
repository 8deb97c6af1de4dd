"""Shared test code, one module per concern (fixtures are in tests/conftest.py):

logs (what the service logs, the secrets it must not), clients (Api, Idx, Linkable and the
answer checks), builders (tenants, accounts), servers (the database, `bankfeeds serve`, worker
environments), faults (feeds over HTTP, loads, killed workers), and the domain steps: feeds,
pendings, certificates, portal, receiver, hostile, dns, images, chromium, dump.
"""
