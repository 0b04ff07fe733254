# The image of every mlmon service in docker-compose.yml: the project installed from its
# own metadata (pyproject.toml), without the development extra, run as the user that owns
# the bind-mounted folders (a non-root user by default).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The user owning the bind-mounted models/, logs/ and data/; build with your own uid
# (MLMON_UID=$(id -u) docker compose build) so both sides can write them. A uid the image
# already knows (0, root, when the clone is root's) is used as it is.
ARG MLMON_UID=1000
RUN getent passwd "${MLMON_UID}" >/dev/null \
    || useradd --create-home --uid "${MLMON_UID}" --shell /usr/sbin/nologin mlmon

WORKDIR /src
# The dependencies first, read from pyproject.toml, so a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install -r requirements.txt
# Then the project itself, from the same pyproject.toml.
COPY README.md ./
COPY producer_sdk ./producer_sdk
COPY worker ./worker
RUN pip install --no-deps . \
    && rm -rf /src

WORKDIR /app
RUN mkdir models logs data && chown "${MLMON_UID}" models logs data
USER ${MLMON_UID}
ENV MLMON_HOME=/app
CMD ["mlmon", "worker"]
