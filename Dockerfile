# meshdash under gunicorn, as a non-root user. Build: docker build -t meshdash:0.1.0 .
# Settings come from MESHDASH_* environment variables (deploy/configmap.yaml); see README.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
# var/ (audit log) is the only path the app writes; in Kubernetes it is an emptyDir.
RUN groupadd --system --gid 10001 meshdash \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin meshdash \
 && mkdir -p /app/var \
 && chown 10001:10001 /app/var

USER 10001:10001

ENV MESHDASH_HOST=0.0.0.0 \
    MESHDASH_PORT=8050
EXPOSE 8050

# Liveness only: /readyz depends on the backends, which a restart would not fix.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MESHDASH_PORT', '8050'), timeout=2)"]

ENTRYPOINT ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:server"]
