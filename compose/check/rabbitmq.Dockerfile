# Stand-in for the rabbitmq management image (make images-check): Debian's RabbitMQ, whose
# package ships the management and prometheus plugins.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       rabbitmq-server \
    && rm -rf /var/lib/apt/lists/*
# Logs to standard output, as the official image does.
ENV RABBITMQ_LOGS=-
COPY rabbitmq-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh
CMD ["docker-entrypoint.sh", "rabbitmq-server"]
