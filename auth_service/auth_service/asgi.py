from service_kit.entrypoints import asgi_application

application = asgi_application("auth_service.settings")
