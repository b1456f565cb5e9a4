"""The platform's roles, in one place: who they are, which need a second factor, and what each
may do in every service's admin.

auth_service gives a person their roles (its groups of these names) and signs them into the
tokens' ``roles`` claim; every service checks them (``service_kit.auth``: ``HasRole``, the
second factor) and its admin turns them into groups (``service_kit.admin_sso``). Plain data with
no imports, so that ``service_kit.conf`` can put it into every service's settings.
"""

from __future__ import annotations

__all__ = [
    "ADMINS",
    "ADMIN_ROLE_PERMISSIONS",
    "CUSTOMER",
    "MFA_ROLES",
    "PLATFORM_TITLE",
    "ROLES",
    "STAFF_ROLES",
]

#: Every account that holds no staff role.
CUSTOMER = "customer"

#: The staff roles; ``admin`` may do everything.
STAFF_ROLES = (
    "catalogue_manager",
    "inventory_manager",
    "order_manager",
    "payment_manager",
    "support",
    "admin",
)
ROLES = (CUSTOMER, *STAFF_ROLES)

#: Roles that move money or grant roles act only with a second factor: a token without ``otp``
#: in its ``amr`` does not carry them, nor enters an admin with them (``settings.MFA_ROLES``).
MFA_ROLES = ("payment_manager", "admin")

#: Each staff role's permissions on a service's own models in its admin (``app_label.codename``
#: patterns with shell wildcards; one starting with ``!`` takes away what the others grant). A
#: service names only its own apps' labels; ``admin`` is a superuser as well. A service passes
#: ``ADMIN_ROLE_PERMISSIONS=`` to ``service_settings()`` to replace it.
ADMIN_ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "admin": ("*",),
    # Looks at everything, changes nothing; never at second-factor secrets.
    "support": ("*.view_*", "!otp_totp.*", "!otp_static.*"),
    "catalogue_manager": ("catalogue.*",),
    "inventory_manager": ("stock.*",),
    "order_manager": ("orders.*",),
    "payment_manager": ("payments.*",),
}


#: The name every admin's header and the staff front page carry.
PLATFORM_TITLE = "Commerce platform"

#: The staff console: each service's admin, as ``service: (segment, title, roles)``. Behind the
#: gateway it lives at ``/admin/<segment>/`` (the gateway routes these), its header says
#: "<title> · Commerce platform", and the front page and every admin's bar link to it for the
#: people holding one of ``roles`` (``admin`` opens every admin). These follow
#: ``ADMIN_ROLE_PERMISSIONS``: a role is listed where it is granted something.
ADMINS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "auth": ("auth", "Accounts", ("support",)),
    "user": ("users", "Customers", ("support",)),
    "product": ("products", "Catalogue", ("catalogue_manager", "support")),
    "inventory": ("inventory", "Inventory", ("inventory_manager", "support")),
    "order": ("orders", "Orders", ("order_manager", "support")),
    "payment": ("payments", "Payments", ("payment_manager", "support")),
    "gateway": ("gateway", "Gateway", ()),
}
