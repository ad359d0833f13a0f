"""Moved to :mod:`compass.synthetic` (generators are not loaders); this name goes once every caller moves."""
from compass.synthetic import *  # noqa: F403
from compass.synthetic import __all__  # noqa: F401
