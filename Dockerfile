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
# The triggers worker's data directory (TOUCHLOG_DATA_DIR): a volume there starts as this.
RUN mkdir -p /var/lib/touchlog && chown nobody:nogroup /var/lib/touchlog
USER nobody
CMD ["touchlog", "--help"]
