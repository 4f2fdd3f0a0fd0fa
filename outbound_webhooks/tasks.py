from __future__ import annotations

from . import delivery


def send(delivery_id: int) -> str:
    return delivery.send(delivery_id)


def send_due() -> str:
    return f"{delivery.send_due()} deliveries enqueued"
