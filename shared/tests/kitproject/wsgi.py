from service_kit.entrypoints import wsgi_application

application = wsgi_application("kitproject.settings")
