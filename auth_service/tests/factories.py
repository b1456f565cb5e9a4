import factory
from accounts.models import ServiceClient, User
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group

PASSWORD = "Correct-Horse-Battery-9"
CLIENT_SECRET = "client-secret-for-tests-0123456789"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = "Ada"
    last_name = "Lovelace"
    password = factory.django.Password(PASSWORD)


class StaffFactory(UserFactory):
    """``StaffFactory(roles=["support"])``: a staff member in those roles' groups."""

    is_staff = True

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for name in extracted or ():
            self.groups.add(Group.objects.get(name=name))


class ServiceClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceClient

    client_id = factory.Sequence(lambda n: f"service-{n}")
    scopes = factory.LazyFunction(lambda: ["payments:charge"])
    secret_hash = factory.LazyFunction(lambda: make_password(CLIENT_SECRET))
