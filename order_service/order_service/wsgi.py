from service_kit.entrypoints import wsgi_application

application = wsgi_application("order_service.settings")
