"""Shared test code, one module per concern (fixtures are in tests/conftest.py; the table of
modules is in docs/DEVELOPMENT.md, "Test layout"): logs, clients, builders, servers, worker,
faults, the domain steps (feeds, pendings, certificates, link, portal, webhooks), live-server
tenants (live), servers on loopback (receiver, hostile, dns), chromium, images and dump.
"""
