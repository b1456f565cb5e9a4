# Stand-in for MinIO (make images-check): moto's S3 server (PyPI), the version the tests pin.
ARG PYTHON_IMAGE
FROM ${PYTHON_IMAGE}
ARG MOTO_VERSION
RUN python -m venv /opt/moto \
    && /opt/moto/bin/pip install --no-cache-dir -q "moto[server]==${MOTO_VERSION}"
ENV PATH=/opt/moto/bin:$PATH
CMD ["moto_server", "-H", "0.0.0.0", "-p", "9000"]
