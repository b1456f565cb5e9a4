# Stand-in for the mher/flower image (make images-check): Flower from PyPI, the same release.
ARG PYTHON_IMAGE
FROM ${PYTHON_IMAGE}
ARG FLOWER_VERSION
RUN python -m venv /opt/flower \
    && /opt/flower/bin/pip install --no-cache-dir -q "flower==${FLOWER_VERSION}"
ENV PATH=/opt/flower/bin:$PATH
USER nobody
CMD ["celery", "flower"]
