#!/usr/bin/env python3
"""A Partner Center webhook receiver on the standard library's http.server:
each POST is verified and applied by ``pcref.Sync.handle_webhook`` before it
is answered, with the status libpcref says (401 forged, 400 malformed, 200
done or a replay, 503 when the signing certificate could not be fetched).

The CRM is examples/python/sqlite_crm.py; Partner Center is configured by the
environment variables of examples/sync-setup.h (PCREF_PC_URL, PCREF_PC_TOKEN_URL,
PCREF_PC_CLIENT_ID, PCREF_PC_CLIENT_SECRET, PCREF_PC_USERNAME, PCREF_PC_PASSWORD)::

    python3 examples/python/webhook_receiver.py --crm crm.db --store state.db --port 8480

Partner Center only calls HTTPS URLs: put it behind a TLS reverse proxy and
register the proxy's URL (doc/production.md). One request at a time: a
libpcref handle is used by one thread at a time.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import pcref
from sqlite_crm import SqliteCrm

MAX_BODY = 64 * 1024      # real events are ~300 bytes


def make_handler(sync: pcref.Sync, verifier: pcref.WebhookVerifier, path: str) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self.path != path or length > MAX_BODY:
                return self.answer(404 if self.path != path else 413)
            body = self.rfile.read(length)               # verified byte for byte: never re-encode it
            try:
                report = sync.handle_webhook(verifier, body, self.headers)
            except pcref.Error as e:                     # e.http_status: the answer Partner Center gets
                self.log_message("refused (%s): %s", type(e).__name__, e.message)
                return self.answer(e.http_status or 500)
            self.log_message("applied: %s", {k: v for k, v in report.items() if v})
            self.answer(200)

        def do_GET(self) -> None:                        # for a load balancer's health check
            self.answer(200 if self.path == "/healthz" else 404)

        def answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--crm", required=True, help="the SQLite CRM file (examples/python/sqlite_crm.py)")
    p.add_argument("--store", required=True, help="the state store (SQLite)")
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8480, help="0: any free port (printed)")
    p.add_argument("--path", default="/webhooks/partner-center")
    p.add_argument("--trust-anchors", help="PEM file of trust anchors (default: the system's)")
    p.add_argument("--certificate-host", action="append", help="host[:port] the signing certificate "
                   "may come from (default: Partner Center's); repeatable")
    args = p.parse_args(argv[1:])
    env = os.environ.get
    conn = pcref.Connection(env("PCREF_PC_URL", "https://api.partner.microsoft.com"), service_name="Partner Center",
                            auth=pcref.AUTH_PASSWORD, resource="https://api.partner.microsoft.com",
                            token_url=env("PCREF_PC_TOKEN_URL", "https://login.microsoftonline.com/common/oauth2/token"),
                            client_id=env("PCREF_PC_CLIENT_ID"), client_secret=env("PCREF_PC_CLIENT_SECRET"),
                            username=env("PCREF_PC_USERNAME"), password=env("PCREF_PC_PASSWORD"))
    crm = pcref.Crm.from_backend(SqliteCrm(args.crm))
    verifier = pcref.WebhookVerifier(certificate_hosts=args.certificate_host, trust_anchors_file=args.trust_anchors)
    with pcref.Sync(pcref.PartnerCenter(conn), crm, pcref.Mapping("memory"), pcref.Store.sqlite(args.store),
                    on_event=lambda e: print(f"event {e.action} referral {e.referral_id}: {e.changes or e.message}",
                                             file=sys.stderr, flush=True)) as sync:
        server = HTTPServer((args.listen, args.port), make_handler(sync, verifier, args.path))
        print(f"listening on http://{args.listen}:{server.server_port}{args.path}", flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)   # SIGTERM too ends it cleanly
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
