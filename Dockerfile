FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
# Every service runs as this unprivileged account (docker-compose.yml sets the same uid): a process
# a researcher's run could influence never holds root on the host's GPUs, files or network.
RUN groupadd --system --gid 10001 domainsieve \
 && useradd --system --uid 10001 --gid domainsieve --home-dir /data/home --shell /usr/sbin/nologin domainsieve
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DJANGO_SECRET_KEY=build python manage.py collectstatic --noinput \
 && mkdir -p /data/media /data/artifacts /data/imports /data/home \
 && chown -R domainsieve:domainsieve /app/var /data
# The code stays root-owned and read-only to the service; it writes only var/ and /data.
USER domainsieve:domainsieve
# Model caches (~/.cache/huggingface, ~/.cache/clip) live on the shared volume, writable by the service.
ENV HOME=/data/home
EXPOSE 8000
