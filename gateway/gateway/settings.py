"""gateway: the front door: routing, JWT enforcement, throttling (issue 4). Everything else comes from the kit."""

from service_kit.conf import service_settings

globals().update(
    service_settings(
        service="gateway",
        port=8000,
        apps=[],
        worker=False,
    )
)
