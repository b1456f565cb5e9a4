"""The payment service's figure on the staff front page (service_kit.console.api)."""

from __future__ import annotations

from django.utils import timezone

from service_kit.console import Figure, admin_href

from .models import Payment, PaymentStatus


def figures() -> list[Figure]:
    today = timezone.localdate()
    return [
        Figure(
            "payments_failed_today",
            "Payments failed today",
            Payment.objects.filter(status=PaymentStatus.FAILED, created_at__date=today).count(),
            # the admin's date hierarchy on today, and the status filter
            admin_href(
                "payment",
                "payments",
                "payment",
                query={
                    "status__exact": PaymentStatus.FAILED,
                    "created_at__year": today.year,
                    "created_at__month": today.month,
                    "created_at__day": today.day,
                },
            ),
        )
    ]
