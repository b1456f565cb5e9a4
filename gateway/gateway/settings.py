"""gateway: the front door (routing, JWT enforcement, throttling); the rest: the kit."""

from service_kit.conf import service_settings

globals().update(
    service_settings(
        service="gateway",
        apps=[],
        worker=False,
    )
)
