FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY events events
COPY producers producers
COPY projections projections
COPY consumers consumers
COPY api api
COPY touchlog touchlog
COPY schemas schemas
RUN pip install --no-cache-dir .
USER nobody
CMD ["touchlog", "--help"]
