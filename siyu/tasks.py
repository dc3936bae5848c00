"""Import every domain's background handlers (wiring only)."""


def load_handlers() -> None:
    import siyu.orders.tasks
    import siyu.staff.tasks  # noqa: F401
