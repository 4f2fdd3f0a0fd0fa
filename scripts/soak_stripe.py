"""A Stripe stand-in for the chaos soak (scripts/soak.py): the Checkout Session, charge,
refund and dispute endpoints `billing.stripe_api` calls, and a deliverer that posts
real Stripe-format events (`Stripe-Signature: t=...,v1=HMAC-SHA256(secret, "t.payload")`)
to the site's webhook, at least once and in any order, retrying anything but a 2xx the
way Stripe does.

It keeps the truth the soak checks the ledger against: which sessions were paid, which
refunds and disputes happened, and for how much.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

API_VERSION = "2026-10-28"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe sends with `payload`."""
    t = int(time.time()) if timestamp is None else timestamp
    v1 = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={v1}"


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) back into nested dicts (lists as dicts by index)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return root


class FakeStripe:
    """State and HTTP face of the stand-in. Every public method is thread-safe."""

    def __init__(self, webhook_url: str, secret: str, rng: random.Random, *, duplicate_rate: float = 0.2):
        self.webhook_url = webhook_url
        self.secret = secret
        self.rng = rng
        self.duplicate_rate = duplicate_rate
        self.lock = threading.RLock()
        self.ids = itertools.count(1)
        self.sessions: dict[str, dict[str, Any]] = {}
        self.by_idempotency: dict[str, str] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, list[dict[str, Any]]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.counts: Counter[str] = Counter()
        self._queue: list[tuple[float, int, dict[str, Any], int]] = []
        self._queue_cv = threading.Condition()
        self._stop = threading.Event()
        self.server: ThreadingHTTPServer | None = None

    # -- ids and objects -------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}_soak{next(self.ids):06d}{self.rng.randrange(16**6):06x}"

    def session_json(self, session_id: str, *, expand: bool = False) -> dict[str, Any]:
        with self.lock:
            s = dict(self.sessions[session_id])
            intent_id = s.pop("_payment_intent", "")
            charge_id = s.pop("_charge", "")
            s.pop("_outcome", None)
            if intent_id and expand:
                charge = self.charges.get(charge_id)
                s["payment_intent"] = {
                    "id": intent_id,
                    "object": "payment_intent",
                    "status": "succeeded" if s["payment_status"] == "paid" else "processing",
                    "latest_charge": {
                        "id": charge_id,
                        "object": "charge",
                        "receipt_url": charge["receipt_url"],
                    }
                    if charge
                    else None,
                }
            else:
                s["payment_intent"] = intent_id or None
            return s

    def charge_json(self, charge_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.charges[charge_id])

    # -- what the soak's buyers do -----------------------------------------------------------

    def create_session(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        with self.lock:
            if idempotency_key and idempotency_key in self.by_idempotency:
                return self.session_json(self.by_idempotency[idempotency_key])
            item = params["line_items"]["0"]
            data = item.get("price_data") or {}
            session_id = self._id("cs_test")
            self.sessions[session_id] = {
                "id": session_id,
                "object": "checkout.session",
                "status": "open",
                "payment_status": "unpaid",
                "amount_total": int(data.get("unit_amount") or 0),
                "currency": data.get("currency", "usd"),
                "url": f"https://checkout.stripe.test/pay/{session_id}",
                "client_reference_id": params.get("client_reference_id", ""),
                "metadata": params.get("metadata") or {},
                "customer": params.get("customer") or self._id("cus"),
                "customer_details": {"email": params.get("customer_email", "")},
                "success_url": params.get("success_url", ""),
                "cancel_url": params.get("cancel_url", ""),
                "created": int(time.time()),
                "livemode": False,
                "_payment_intent": "",
                "_charge": "",
                "_outcome": "",
            }
            if idempotency_key:
                self.by_idempotency[idempotency_key] = session_id
            self.counts["sessions created"] += 1
            return self.session_json(session_id)

    def _open_payment(self, session_id: str) -> dict[str, Any]:
        s = self.sessions[session_id]
        s["_payment_intent"] = self._id("pi")
        return s

    def pay(self, session_id: str) -> bool:
        """The buyer paid by card: the session completes paid and the event goes out."""
        with self.lock:
            s = self.sessions[session_id]
            if s["status"] != "open":
                return False
            self._open_payment(session_id)
            self._settle(s)
            s["status"] = "complete"
            s["_outcome"] = "paid"
        self.emit("checkout.session.completed", self.session_json(session_id))
        return True

    def pay_later(self, session_id: str) -> bool:
        """A delayed payment method: complete but unpaid now; money (or failure) later."""
        with self.lock:
            s = self.sessions[session_id]
            if s["status"] != "open":
                return False
            self._open_payment(session_id)
            s["status"] = "complete"
            s["_outcome"] = "processing"
        self.emit("checkout.session.completed", self.session_json(session_id))
        return True

    def settle_later(self, session_id: str, succeeded: bool) -> None:
        with self.lock:
            s = self.sessions[session_id]
            if s["_outcome"] != "processing":
                return
            if succeeded:
                self._settle(s)
                s["_outcome"] = "paid"
            else:
                s["_outcome"] = "failed"
        kind = "succeeded" if succeeded else "failed"
        self.emit(f"checkout.session.async_payment_{kind}", self.session_json(session_id))

    def _settle(self, s: dict[str, Any]) -> None:
        charge_id = self._id("ch")
        s["payment_status"] = "paid"
        s["_charge"] = charge_id
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": s["amount_total"],
            "amount_refunded": 0,
            "currency": s["currency"],
            "payment_intent": s["_payment_intent"],
            "receipt_url": f"https://pay.stripe.test/receipts/{charge_id}",
        }
        self.refunds[charge_id] = []

    def expire(self, session_id: str, *, emit: bool = True) -> dict[str, Any] | None:
        with self.lock:
            s = self.sessions.get(session_id)
            if s is None:
                return None
            if s["status"] == "open":
                s["status"] = "expired"
                s["_outcome"] = "expired"
                changed = True
            else:
                changed = False
        if changed and emit:
            self.emit("checkout.session.expired", self.session_json(session_id))
        return self.session_json(session_id)

    def refund(self, session_id: str, fraction: float) -> str | None:
        with self.lock:
            charge_id = self.sessions[session_id]["_charge"]
            charge = self.charges.get(charge_id)
            if charge is None:
                return None
            left = charge["amount"] - charge["amount_refunded"]
            amount = min(left, max(1, int(charge["amount"] * fraction)))
            if amount <= 0:
                return None
            refund = {
                "id": self._id("re"),
                "object": "refund",
                "amount": amount,
                "charge": charge_id,
                "status": "succeeded",
                "created": int(time.time()) + len(self.refunds[charge_id]),
            }
            self.refunds[charge_id].append(refund)
            charge["amount_refunded"] += amount
        self.emit("charge.refunded", self.charge_json(charge_id))
        return refund["id"]

    def dispute(self, session_id: str) -> str | None:
        with self.lock:
            charge_id = self.sessions[session_id]["_charge"]
            charge = self.charges.get(charge_id)
            if charge is None:
                return None
            dispute = {
                "id": self._id("dp"),
                "object": "dispute",
                "charge": charge_id,
                "payment_intent": charge["payment_intent"],
                "amount": charge["amount"],
                "currency": charge["currency"],
                "status": "needs_response",
            }
            self.disputes[dispute["id"]] = dispute
        self.emit("charge.dispute.created", dict(dispute))
        return dispute["id"]

    def close_dispute(self, dispute_id: str, won: bool) -> None:
        with self.lock:
            dispute = self.disputes[dispute_id]
            dispute["status"] = "won" if won else "lost"
            snapshot = dict(dispute)
        self.emit("charge.dispute.closed", snapshot)

    # -- events ------------------------------------------------------------------------------

    def emit(self, event_type: str, obj: dict[str, Any]) -> None:
        """Queue an event: delivered after a random delay (so events overtake each other),
        sometimes twice."""
        event = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "type": event_type,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }
        with self.lock:
            self.counts[f"event {event_type}"] += 1
            copies = 2 if self.rng.random() < self.duplicate_rate else 1
            delays = [self.rng.uniform(0, 3) for _ in range(copies)]
            if copies == 2:
                self.counts["events duplicated"] += 1
        for delay in delays:
            self._push(time.monotonic() + delay, event, 0)

    def _push(self, due: float, event: dict[str, Any], attempt: int) -> None:
        with self._queue_cv:
            heapq.heappush(self._queue, (due, next(self.ids), event, attempt))
            self._queue_cv.notify()

    def pending_deliveries(self) -> int:
        with self._queue_cv:
            return len(self._queue)

    def _deliver_loop(self) -> None:
        http = requests.Session()
        while not self._stop.is_set():
            with self._queue_cv:
                if not self._queue or self._queue[0][0] > time.monotonic():
                    wait = 0.2 if not self._queue else min(0.2, self._queue[0][0] - time.monotonic())
                    self._queue_cv.wait(max(wait, 0.01))
                    continue
                _due, _seq, event, attempt = heapq.heappop(self._queue)
            threading.Thread(target=self._deliver_one, args=(http, event, attempt), daemon=True).start()

    def _deliver_one(self, http: requests.Session, event: dict[str, Any], attempt: int) -> None:
        payload = json.dumps(event)
        try:
            # Stripe signs every attempt afresh, so a retry is never older than the tolerance.
            response = http.post(
                self.webhook_url,
                data=payload.encode(),
                headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload, self.secret)},
                timeout=10,
            )
            ok = 200 <= response.status_code < 300
            status = str(response.status_code)
        except requests.RequestException as exc:
            ok, status = False, exc.__class__.__name__
        with self.lock:
            self.counts["deliveries"] += 1
            if not ok:
                self.counts[f"deliveries refused ({status})"] += 1
        if not ok:
            self._push(
                time.monotonic() + min(2 ** min(attempt, 4), 15) * (0.5 + self.rng.random()),
                event,
                attempt + 1,
            )

    # -- HTTP --------------------------------------------------------------------------------

    def start(self, port: int) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{stand_in.rng.randrange(16**8):08x}")
                self.end_headers()
                self.wfile.write(data)

            def _missing(self, what: str) -> None:
                self._answer(
                    404,
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "code": "resource_missing",
                            "message": f"No such {what}",
                        }
                    },
                )

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = _nest(parse_qsl(parts.query))
                stand_in.route(self, "GET", parts.path.rstrip("/").split("/")[1:], query)

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = _nest(parse_qsl(self.rfile.read(length).decode()))
                stand_in.route(self, "POST", parts.path.rstrip("/").split("/")[1:], body)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        threading.Thread(target=self._deliver_loop, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self.server is not None:
            self.server.shutdown()

    def route(self, h: Any, method: str, path: list[str], params: dict[str, Any]) -> None:
        with self.lock:
            self.counts[
                f"api {method} /{'/'.join(p if not p.startswith(('cs_', 'ch_', 'dp_')) else '{id}' for p in path)}"
            ] += 1
        if path[:3] == ["v1", "checkout", "sessions"]:
            rest = path[3:]
            if method == "POST" and not rest:
                return h._answer(200, self.create_session(params, h.headers.get("Idempotency-Key", "")))
            if method == "GET" and not rest:
                return h._answer(200, self._list_sessions(params))
            session_id = rest[0]
            if session_id not in self.sessions:
                return h._missing(f"checkout.session: '{session_id}'")
            if method == "POST" and rest[1:] == ["expire"]:
                with self.lock:
                    if self.sessions[session_id]["status"] != "open":
                        return h._answer(
                            400,
                            {
                                "error": {
                                    "type": "invalid_request_error",
                                    "message": "Only open sessions expire",
                                }
                            },
                        )
                return h._answer(200, self.expire(session_id))
            if method == "GET" and len(rest) == 1:
                expand = any("payment_intent" in str(v) for v in (params.get("expand") or {}).values())
                return h._answer(200, self.session_json(session_id, expand=expand))
        if path[:2] == ["v1", "charges"] and method == "GET" and len(path) == 3:
            if path[2] not in self.charges:
                return h._missing(f"charge: '{path[2]}'")
            return h._answer(200, self.charge_json(path[2]))
        if path == ["v1", "refunds"] and method == "GET":
            with self.lock:
                data = [dict(r) for r in self.refunds.get(params.get("charge", ""), [])]
            return h._answer(200, {"object": "list", "data": data, "has_more": False, "url": "/v1/refunds"})
        if path[:2] == ["v1", "disputes"] and method == "GET" and len(path) == 3:
            with self.lock:
                dispute = dict(self.disputes[path[2]]) if path[2] in self.disputes else None
            if dispute is None:
                return h._missing(f"dispute: '{path[2]}'")
            return h._answer(200, dispute)
        return h._answer(
            404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}
        )

    def _list_sessions(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            found = [self.session_json(sid, expand=True) for sid in self.sessions]
        if params.get("payment_intent"):
            found = [
                s
                for s in found
                if isinstance(s["payment_intent"], dict)
                and s["payment_intent"]["id"] == params["payment_intent"]
            ]
        if params.get("status"):
            found = [s for s in found if s["status"] == params["status"]]
        since = int((params.get("created") or {}).get("gte") or 0)
        found = [s for s in found if s["created"] >= since]
        # Newest first, paged by starting_after like Stripe's lists.
        found.sort(key=lambda s: (s["created"], s["id"]), reverse=True)
        after = params.get("starting_after")
        if after:
            ids = [s["id"] for s in found]
            found = found[ids.index(after) + 1 :] if after in ids else []
        limit = int(params.get("limit") or 10)
        return {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/checkout/sessions",
        }

    # -- the truth, for the soak's checks ------------------------------------------------------

    def truth(self) -> dict[str, dict[str, Any]]:
        """Per session id: paid or not, its refunds (id, amount) and disputes (id, status, amount)."""
        with self.lock:
            result = {}
            for sid, s in self.sessions.items():
                charge = self.charges.get(s["_charge"])
                result[sid] = {
                    "purchase_id": s["metadata"].get("purchase_id"),
                    "status": s["status"],
                    "paid": s["payment_status"] == "paid",
                    "amount": s["amount_total"],
                    "refunds": [(r["id"], r["amount"]) for r in self.refunds.get(s["_charge"], [])],
                    "disputes": [
                        (d["id"], d["status"], d["amount"])
                        for d in self.disputes.values()
                        if charge and d["charge"] == charge["id"]
                    ],
                }
            return result
