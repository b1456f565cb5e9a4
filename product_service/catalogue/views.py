"""The catalogue API (docs/api.md#resources, catalogue): views parse input, call one service or
selector, shape output.

Reads are public and cached (see :mod:`.cache`): a hit is one cache round trip, no query and no
rendering, answered with its ``ETag`` (``304`` on ``If-None-Match``). Writes are for
``catalogue_manager`` and ``admin``; everything they change is visible on the next read.
"""

from __future__ import annotations

from uuid import UUID

from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from service_kit.auth import HasRole
from service_kit.idempotency import idempotent

from . import cache, selectors, services
from .filters import QUERY_PARAMETERS, ProductFilter
from .serializers import (
    CategorySerializer,
    CategoryWriteSerializer,
    ProductImageSerializer,
    ProductImageUploadSerializer,
    ProductSerializer,
    ProductUpdateSerializer,
    ProductWriteSerializer,
)

#: Who may change the catalogue (``admin`` may do everything).
CatalogueManager = HasRole("catalogue_manager")

_ETAG_PARAMETER = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="An ETag of an earlier answer: 304 when nothing changed since.",
)
_NOT_MODIFIED = OpenApiResponse(description="Not modified (the ETag matched).")


class CatalogueApi(generics.GenericAPIView):
    """Public reads, manager writes."""

    def get_permissions(self):
        method = (self.request.method or "").lower()
        # A method the view does not have protects nothing: its 405 comes before any 401.
        if method in ("get", "head", "options") or not hasattr(self, method):
            return [AllowAny()]
        return [CatalogueManager()]

    def visibility(self) -> str:
        return "staff" if selectors.sees_inactive(self.request.user) else "public"

    def base_url(self) -> str:
        # Absolute URLs (pages, local images) name the host asked: part of every cache key.
        return self.request.build_absolute_uri("/")

    def public_key(self, request, **kwargs) -> str | None:
        """The cache key of an anonymous read, or None when it is not cached."""
        return None

    def dispatch(self, request, *args, **kwargs):
        # The shop's hot path: an anonymous read already in the cache is answered here, before
        # DRF's request wrapping, content negotiation and permission checks (same key, same body
        # and ETag as the full path, which answers everything else and fills the cache).
        if request.method == "GET" and "HTTP_AUTHORIZATION" not in request.META:
            key = self.public_key(request, **kwargs)
            found = cache.hit(key) if key else None
            if found is not None:
                return cache.json_response(request, found)
        return super().dispatch(request, *args, **kwargs)


class ProductListApi(CatalogueApi):
    """Products, newest first, filtered (customers see active products only); a manager adds
    one with POST (``Idempotency-Key`` honoured)."""

    serializer_class = ProductSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ProductFilter

    def get_queryset(self):
        return selectors.product_list(include_inactive=self.visibility() == "staff")

    @staticmethod
    def list_key(query, visibility: str, base_url: str) -> str | None:
        if set(query) <= QUERY_PARAMETERS and all(len(query.getlist(k)) == 1 for k in query):
            parts = (f"{name}={query[name]}" for name in sorted(query))
            return cache.entry_key("products", visibility, base_url, *parts)
        return None

    def public_key(self, request, **kwargs) -> str | None:
        return self.list_key(request.GET, "public", request.build_absolute_uri("/"))

    @extend_schema(
        parameters=[_ETAG_PARAMETER],
        responses={200: ProductSerializer(many=True), 304: _NOT_MODIFIED},
    )
    def get(self, request: Request) -> HttpResponse:
        key = self.list_key(request.query_params, self.visibility(), self.base_url())
        if key is not None:
            return cache.json_response(request, cache.cached(key, self.render_page))
        # Parameters the list does not know (or repeated ones) are answered, not cached: the
        # cache never fills up with variations of one page.
        return cache.json_response(request, cache.rendered(self.render_page()))

    def render_page(self):
        filterset = ProductFilter(
            self.request.query_params, queryset=self.get_queryset(), request=self.request
        )
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        data = self.get_serializer(page, many=True).data
        return self.get_paginated_response(data).data

    @extend_schema(request=ProductWriteSerializer, responses={201: ProductSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = ProductWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_create(**serializer.validated_data)
        location = request.build_absolute_uri(f"{request.path}{product.pk}/")
        return Response(
            self.get_serializer(product).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )


class ProductDetailApi(CatalogueApi):
    """A product by its id or slug; a manager changes it (PATCH; the SKU never changes) or
    deletes it (DELETE: gone from the API for good, its SKU never reused)."""

    serializer_class = ProductSerializer

    def get_object(self):
        return selectors.product_get(
            key=self.kwargs["key"], include_inactive=self.visibility() == "staff"
        )

    def public_key(self, request, **kwargs) -> str | None:
        return cache.entry_key("product", "public", request.build_absolute_uri("/"), kwargs["key"])

    @extend_schema(
        parameters=[_ETAG_PARAMETER], responses={200: ProductSerializer, 304: _NOT_MODIFIED}
    )
    def get(self, request: Request, key: str) -> HttpResponse:
        cache_key = cache.entry_key("product", self.visibility(), self.base_url(), key)
        rendered = cache.cached(cache_key, lambda: self.get_serializer(self.get_object()).data)
        return cache.json_response(request, rendered)

    @extend_schema(request=ProductUpdateSerializer, responses={200: ProductSerializer})
    def patch(self, request: Request, key: str) -> Response:
        product = self.get_object()  # 404 comes before validation errors
        serializer = ProductUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", None)
        product = services.product_update(
            product_id=product.pk,
            changes=changes,
            actor=getattr(request.user, "email", None) or str(request.user),
            reason=reason,
        )
        return Response(self.get_serializer(product).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, key: str) -> Response:
        services.product_delete(product_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProductImageListApi(CatalogueApi):
    """Add a picture (multipart ``image``, JPEG, PNG or WebP, and ``alt``) after the others."""

    # Uploads only: the kit's body middleware lets multipart through to here.
    parser_classes = [MultiPartParser]
    serializer_class = ProductImageSerializer

    @extend_schema(request=ProductImageUploadSerializer, responses={201: ProductImageSerializer})
    def post(self, request: Request, key: str) -> Response:
        product = selectors.product_get(key=key, include_inactive=True)
        upload = ProductImageUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        image = services.product_image_add(
            product_id=product.pk,
            upload=upload.validated_data["image"],
            alt=upload.validated_data["alt"],
        )
        return Response(self.get_serializer(image).data, status=status.HTTP_201_CREATED)


class ProductImageDetailApi(CatalogueApi):
    """Remove a picture of the product."""

    serializer_class = ProductImageSerializer

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, key: str, image_id: UUID) -> Response:
        product = selectors.product_get(key=key, include_inactive=True)
        services.product_image_delete(product_id=product.pk, image_id=image_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CategoryListApi(CatalogueApi):
    """Categories by name; ``parent`` makes the tree. A manager adds one with POST."""

    serializer_class = CategorySerializer

    def get_queryset(self):
        return selectors.category_list()

    @extend_schema(
        parameters=[_ETAG_PARAMETER],
        responses={200: CategorySerializer(many=True), 304: _NOT_MODIFIED},
    )
    def get(self, request: Request) -> HttpResponse:
        query = request.query_params
        if set(query) <= {"page", "page_size"}:
            key = cache.entry_key(
                "categories", self.base_url(), *(f"{k}={query[k]}" for k in sorted(query))
            )
            rendered = cache.cached(key, self.render_page)
        else:
            rendered = cache.rendered(self.render_page())
        return cache.json_response(request, rendered, vary_on_caller=False)

    def render_page(self):
        page = self.paginate_queryset(self.get_queryset())
        data = self.get_serializer(page, many=True).data
        return self.get_paginated_response(data).data

    @extend_schema(request=CategoryWriteSerializer, responses={201: CategorySerializer})
    def post(self, request: Request) -> Response:
        serializer = CategoryWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        category = services.category_create(**serializer.validated_data)
        location = request.build_absolute_uri(f"{request.path}{category.pk}/")
        return Response(
            self.get_serializer(category).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )


class CategoryDetailApi(CatalogueApi):
    """A category by its id or slug; a manager renames or moves it (never below itself) or
    deletes it when it has no products and no subcategories (409 otherwise)."""

    serializer_class = CategorySerializer

    @extend_schema(responses={200: CategorySerializer})
    def get(self, request: Request, key: str) -> Response:
        return Response(self.get_serializer(selectors.category_get(key=key)).data)

    @extend_schema(request=CategoryWriteSerializer, responses={200: CategorySerializer})
    def patch(self, request: Request, key: str) -> Response:
        category = selectors.category_get(key=key)
        serializer = CategoryWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        category = services.category_update(
            category_id=category.pk, changes=serializer.validated_data
        )
        return Response(self.get_serializer(category).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, key: str) -> Response:
        services.category_delete(category_id=selectors.category_get(key=key).pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
