"""product_service: categories, products, prices, images. Everything else comes from the kit."""

from service_kit.conf import env, service_settings

globals().update(
    service_settings(
        service="product",
        apps=["django_filters", "catalogue"],
        # Product images (stored in the default storage: S3 when S3_BUCKET is set, local disk
        # otherwise), checked like avatars.
        PRODUCT_IMAGE_MAX_BYTES=env.int("PRODUCT_IMAGE_MAX_BYTES", 5 * 1024 * 1024),
        PRODUCT_IMAGE_MAX_DIMENSION=env.int("PRODUCT_IMAGE_MAX_DIMENSION", 6000),
        # How long a cached catalogue answer may live at most; every write makes all of them
        # out of date at once anyway (catalogue/cache.py).
        CATALOGUE_CACHE_TIMEOUT=env.int("CATALOGUE_CACHE_TIMEOUT", 300),
    )
)
