"""Import every domain's background handlers and connect domains that do not know each other (wiring only)."""


def load_handlers() -> None:
    import siyu.claims.tasks
    import siyu.fans.tasks
    import siyu.jobs.tasks
    import siyu.ledger.tasks
    import siyu.loyalty.tasks
    import siyu.mall.tasks
    import siyu.orders.tasks
    import siyu.staff.tasks  # noqa: F401
    from siyu.claims import tasks as claims
    from siyu.loyalty.tasks import on_orders_changed
    from siyu.orders import events

    events.listen("points", on_orders_changed)  # first: the ledger applies the changes
    events.listen("bound", claims.on_orders_changed)
    events.listen_for_arrivals("claims", claims.on_orders_arrived)
