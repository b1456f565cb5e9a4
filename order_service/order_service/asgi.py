from service_kit.entrypoints import asgi_application

application = asgi_application("order_service.settings")
