"""Import every domain's background handlers and connect domains that do not know each other (wiring only)."""


def load_handlers() -> None:
    import siyu.claims.tasks
    import siyu.fans.tasks
    import siyu.jobs.tasks
    import siyu.ledger.tasks
    import siyu.loyalty.tasks
    import siyu.mall.tasks
    import siyu.notices.tasks
    import siyu.orders.tasks
    import siyu.staff.tasks  # noqa: F401
    from siyu.claims import tasks as claims
    from siyu.jobs.notify import notify_with
    from siyu.notices import service as notices
    from siyu.orders import events

    events.listen("points", claims.credit_changes)  # first: the points of orders that changed
    events.listen("bound", claims.on_orders_changed)
    events.listen_for_arrivals("claims", claims.on_orders_arrived)
    notify_with("notices", notices.file)  # every notice goes out through the tenant's chosen channels
