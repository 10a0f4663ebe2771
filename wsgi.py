"""The WSGI entry point for gunicorn: `gunicorn -c gunicorn.conf.py wsgi:server`.

Settings come from MESHDASH_* environment variables only (no CLI flags under gunicorn).
Each worker imports this module and so builds its own app, Services and in-process cache;
set MESHDASH_CACHE_REDIS_URL to share one cache (and its single flight) between them.
"""

from __future__ import annotations

from app import create_app
from ops.heap import freeze_startup_heap
from ops.logging_setup import configure_logging
from wiring.settings import Settings

settings = Settings()
configure_logging(settings.log_level)
app = create_app(settings)
server = app.server  # the Flask app: what gunicorn serves
application = server  # the name other WSGI servers look for
freeze_startup_heap()  # each worker's own, once its app is built (ops/heap.py)
