from service_kit.entrypoints import wsgi_application

application = wsgi_application("payment_service.settings")
