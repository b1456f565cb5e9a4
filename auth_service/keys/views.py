from django.http import JsonResponse
from django.views.decorators.http import require_safe

from . import selectors


@require_safe
def jwks_view(request):
    response = JsonResponse(selectors.jwks())
    response["Cache-Control"] = "public, max-age=60"
    return response
