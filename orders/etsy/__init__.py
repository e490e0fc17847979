"""Etsy Open API v3 as J3D uses it: OAuth PKCE, the receipts client, the receipt reader, a fake.

A library with no Django imports (like ``printers/bambu/``), so it can be read, tested and
benchmarked on its own. Written against ``/work/shared/reference/etsy-api.md``:

- ``receipts.py`` reads a getShopReceipts result into typed values, or says why it cannot;
- ``client.py`` speaks HTTP to Etsy: PKCE, token exchange and refresh, paced and retried calls,
  and receipt paging that survives offset drift;
- ``fake.py`` is a faithful Etsy stand-in served over real HTTP on loopback, for tests, the demo
  and the bench (like the printer simulator).
"""
