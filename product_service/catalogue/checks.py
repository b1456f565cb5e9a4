"""System checks of the catalogue's settings (registered in CatalogueConfig.ready)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

POSITIVE_SETTINGS = (
    "PRODUCT_IMAGE_MAX_BYTES",
    "PRODUCT_IMAGE_MAX_DIMENSION",
    "CATALOGUE_CACHE_TIMEOUT",
)


@checks.register()
def catalogue_settings_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    problems: list[checks.CheckMessage] = []
    for name in POSITIVE_SETTINGS:
        value = getattr(settings, name, None)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            problems.append(
                checks.Error(
                    f"{name} must be a positive whole number, not {value!r}.",
                    id="catalogue.E001",
                )
            )
    max_bytes = getattr(settings, "PRODUCT_IMAGE_MAX_BYTES", None)
    body_limit = getattr(settings, "MAX_REQUEST_BODY_SIZE", None)
    if isinstance(max_bytes, int) and isinstance(body_limit, int) and max_bytes > body_limit:
        # The kit's body middleware answers 413 first, without the image's own limit in it.
        problems.append(
            checks.Warning(
                "PRODUCT_IMAGE_MAX_BYTES is larger than MAX_REQUEST_BODY_SIZE: such uploads are "
                "refused before the image check sees them.",
                hint="Raise MAX_REQUEST_BODY_SIZE or lower PRODUCT_IMAGE_MAX_BYTES.",
                id="catalogue.W001",
            )
        )
    return problems
