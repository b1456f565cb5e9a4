from platform_tools.testing.secrets import admin_pages_test

test_no_admin_page_shows_a_secret = admin_pages_test(factories=["tests.factories"])
