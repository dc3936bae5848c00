"""ASGI entry point for uvicorn: `siyu.main:app`.

Logging is set up here too: `siyu serve --workers N` starts each worker as a fresh interpreter that imports this
module, and without it every worker would log every request at debug level, whatever SIYU_LOG_LEVEL says.
"""

from siyu import logs
from siyu.app import create_app
from siyu.config import get_settings

settings = get_settings()
logs.configure(settings.log_level, json=settings.log_json)
app = create_app(settings)
