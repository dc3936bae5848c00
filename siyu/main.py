"""ASGI entry point for uvicorn: `siyu.main:app`."""

from siyu.app import create_app

app = create_app()
