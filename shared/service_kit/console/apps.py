from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """Every admin's header and bar (listed before ``django.contrib.admin``: its templates win)."""

    name = "service_kit.console"
    label = "console"
    verbose_name = "Staff console"

    def ready(self) -> None:
        from django.conf import settings
        from django.contrib import admin

        from .links import admin_title

        title = admin_title(settings.SERVICE_NAME)
        admin.site.site_header = admin.site.site_title = title
        admin.site.index_title = "Administration"
        admin.site.site_url = None  # no "View site": the bar links the front page
