"""ASGI entry point for uvicorn: `siyu.main:app`.

Logging is set up here too: `siyu serve --workers N` starts each worker as a fresh interpreter that imports this
module, and without it every worker would log every request at debug level, whatever SIYU_LOG_LEVEL says.

Every route's request handling state is built here too, before the first request rather than during it (it takes
seconds and would hold up the first requests of each worker), so that it is frozen with the rest.

The garbage collector is tuned here as well. Everything imported so far lives as long as the process: frozen, it is
never scanned again. A request allocates a few hundred objects that die with it; with the default threshold (700) the
youngest generation was collected every couple of requests, about a tenth of a claim's CPU.
"""

import gc

from siyu import logs
from siyu.app import create_app, route_templates
from siyu.config import get_settings

settings = get_settings()
logs.configure(settings.log_level, json=settings.log_json)
app = create_app(settings)
route_templates(app)

gc.collect()
gc.freeze()
gc.set_threshold(10_000, 10, 10)
