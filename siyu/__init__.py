"""siyu 私域: fans turn public-platform orders into member points; ops run it from a web console."""

__version__ = "0.1.0"
