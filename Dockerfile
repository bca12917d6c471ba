# casecoord API image. Production sets CASECOORD_DATABASE_URL and the
# CASECOORD_OIDC_* settings (see README "Production notes").
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CASECOORD_ENV=production CASECOORD_DATA_DIR=/var/lib/casecoord
RUN useradd --system --uid 10001 --home-dir /var/lib/casecoord --create-home casecoord
COPY --from=build /install /usr/local
USER casecoord
WORKDIR /var/lib/casecoord
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["casecoord", "serve", "--host", "0.0.0.0", "--port", "8000"]
