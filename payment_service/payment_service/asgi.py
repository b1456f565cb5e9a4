from service_kit.entrypoints import asgi_application

application = asgi_application("payment_service.settings")
