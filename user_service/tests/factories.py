import uuid

import factory
from django.utils import timezone
from profiles.models import Address, Profile


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    user_id = factory.LazyFunction(uuid.uuid4)
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = "Ada"
    last_name = "Lovelace"
    registered_at = factory.LazyFunction(timezone.now)  # as user.registered makes them


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    user = factory.SubFactory(ProfileFactory)
    name = "Ada Lovelace"
    line1 = factory.Sequence(lambda n: f"{n} Main Street")
    city = "Berlin"
    postal_code = "10115"
    country = "DE"
    # As the service does it: a user's first address is their default.
    is_default = factory.LazyAttribute(lambda o: not Address.objects.filter(user=o.user).exists())
