"""Import every domain's background handlers and connect domains that do not know each other (wiring only)."""


def load_handlers() -> None:
    import siyu.claims.tasks
    import siyu.fans.tasks
    import siyu.jobs.tasks
    import siyu.ledger.tasks
    import siyu.live.tasks
    import siyu.loyalty.tasks
    import siyu.mall.tasks
    import siyu.orders.tasks
    import siyu.staff.tasks  # noqa: F401
    from siyu.claims import tasks as claims
    from siyu.orders import events

    events.listen("points", claims.credit_changes)  # first: the points of orders that changed
    events.listen("bound", claims.on_orders_changed)
    events.listen_for_arrivals("claims", claims.on_orders_arrived)
