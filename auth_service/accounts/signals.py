"""What must follow a change of a person's access, whichever path made it (the admin's user
and group forms, a shell, a data migration, code): the receivers name the people, the services
act (:func:`accounts.services.user_access_changed`)."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_save, pre_delete, pre_save
from django.dispatch import receiver

from . import services
from .models import User, access_updated

ACCESS_FIELDS = ("is_staff", "is_superuser", "is_active")


@receiver(pre_save, sender=User, dispatch_uid="accounts.access_before")
def remember_access(sender, instance: User, raw: bool, update_fields=None, **kwargs) -> None:
    instance._access_before = None
    if raw or instance._state.adding:
        return
    if update_fields is not None and not set(update_fields) & set(ACCESS_FIELDS):
        return  # e.g. last_login at each sign-in: no query
    instance._access_before = (
        User.objects.filter(pk=instance.pk).values_list(*ACCESS_FIELDS).first()
    )


@receiver(post_save, sender=User, dispatch_uid="accounts.access_saved")
def on_user_saved(sender, instance: User, created: bool, raw: bool, **kwargs) -> None:
    before = getattr(instance, "_access_before", None)
    if created or raw or before is None:
        return
    if before != tuple(getattr(instance, field) for field in ACCESS_FIELDS):
        services.user_access_changed(user_ids=[instance.pk])


@receiver(access_updated, dispatch_uid="accounts.access_updated")
def on_access_updated(sender, user_ids, **kwargs) -> None:
    """``User.objects.filter(...).update(is_staff=...)``: no save, no post_save (the sender is
    a data migration's historical User too)."""
    services.user_access_changed(user_ids=user_ids)


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="accounts.groups_changed")
def on_groups_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    """``user.groups.add/remove/set/clear`` and the reverse, ``group.user_set.…``."""
    if action in ("post_add", "post_remove") and pk_set:
        user_ids = pk_set if reverse else [instance.pk]
    elif action == "pre_clear":  # who loses the groups is known only before
        user_ids = (
            list(instance.user_set.values_list("pk", flat=True))
            if reverse
            else ([instance.pk] if instance.groups.exists() else [])
        )
    else:
        return
    services.user_access_changed(user_ids=user_ids)


@receiver(pre_save, sender=Group, dispatch_uid="accounts.group_renamed")
def on_group_renamed(sender, instance: Group, raw: bool, **kwargs) -> None:
    """A role is a group's name: renamed, its members hold another role."""
    if raw or instance._state.adding:
        return
    if Group.objects.filter(pk=instance.pk).exclude(name=instance.name).exists():
        services.user_access_changed(user_ids=instance.user_set.values_list("pk", flat=True))


@receiver(pre_delete, sender=Group, dispatch_uid="accounts.group_deleted")
def on_group_deleted(sender, instance: Group, **kwargs) -> None:
    # The membership rows go by cascade, which sends no m2m_changed.
    services.user_access_changed(user_ids=instance.user_set.values_list("pk", flat=True))
