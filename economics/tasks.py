from economics import balance


def refresh_pack_balance() -> None:
    """Scheduled every 15 minutes: Kling allows one `/account/costs` call a second, we need far fewer."""
    balance.refresh()
