"""Import every domain's background handlers and connect domains that do not know each other (wiring only)."""


def load_handlers() -> None:
    import siyu.analytics.tasks
    import siyu.claims.tasks
    import siyu.engagement.checkin.tasks
    import siyu.engagement.referrals.tasks
    import siyu.fans.tasks
    import siyu.jobs.tasks
    import siyu.ledger.tasks
    import siyu.live.tasks
    import siyu.loyalty.tasks
    import siyu.mall.tasks
    import siyu.notices.tasks
    import siyu.orders.tasks
    import siyu.segments.tasks
    import siyu.staff.tasks
    import siyu.trials.tasks  # noqa: F401
    from siyu.claims import tasks as claims
    from siyu.jobs.notify import notify_with
    from siyu.notices import service as notices
    from siyu.orders import events

    events.listen("points", claims.credit_changes)  # first: the points of orders that changed
    events.listen("bound", claims.on_orders_changed)
    events.listen_for_arrivals("claims", claims.on_orders_arrived)
    notify_with("notices", notices.file)  # every notice goes out through the tenant's chosen channels
    connect()


def connect() -> None:
    """Listeners of fans' lifecycle, which the web process needs too (a sign-in happens in a request; a merge's
    listeners run in its job)."""
    from siyu.engagement.checkin import service as checkin
    from siyu.engagement.missions import service as missions
    from siyu.engagement.referrals import tasks as referrals
    from siyu.fans import events as fan_events
    from siyu.segments import service as segments

    fan_events.listen_for_joins("referrals", referrals.on_joined)
    fan_events.listen_for_returns("referrals", referrals.on_returned)
    fan_events.on_merge("missions", missions.follow_merge)
    fan_events.on_merge("checkin", checkin.follow_merge)
    fan_events.on_merge("segments", segments.follow_merge)
