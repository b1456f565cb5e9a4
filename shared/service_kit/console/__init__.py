"""The staff console: the seven admins as one product.

- **One look**: every admin's header reads "<service> · Commerce platform", and a bar under it
  links to the staff front page (``/admin/`` on the gateway) and to the other admins the person's
  roles open (``service_kit.roles.ADMINS``). The app is listed before Django's admin, so its
  ``admin/base_site.html`` is the one every admin page extends.
- **Links instead of ids**: :func:`admin_link` writes a link into another service's admin through
  the gateway (``/admin/<segment>/<app>/<model>/<pk>/change/``); :func:`money_display` and
  :func:`address_display` show amounts with their currency and addresses as addresses.
- **Figures and activity** for the staff front page: each service answers its :class:`Figure` s
  (``settings.CONSOLE_FIGURES``) and its audit trail at ``/api/v1/console/`` (``.api``).
"""

from .links import (
    FRONT_PAGE,
    AdminEntry,
    Figure,
    address_display,
    admin_href,
    admin_link,
    admin_title,
    admins_open_to,
    money_display,
    staff_roles_of,
)

__all__ = [
    "FRONT_PAGE",
    "AdminEntry",
    "Figure",
    "address_display",
    "admin_href",
    "admin_link",
    "admin_title",
    "admins_open_to",
    "money_display",
    "staff_roles_of",
]
