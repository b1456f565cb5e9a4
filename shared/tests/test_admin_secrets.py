"""The kit's own admin pages (outbox, dead letters, users and groups) show no secret: the test
every service's suite runs, here on the kit's test project."""

from platform_tools.testing.secrets import admin_pages_test

test_no_admin_page_shows_a_secret = admin_pages_test()
