from service_kit.entrypoints import asgi_application

application = asgi_application("inventory_service.settings")
