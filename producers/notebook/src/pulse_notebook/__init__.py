"""pulse-notebook: ``%load_ext pulse_notebook`` reports each cell a student runs to a Pulse
class, in the background, without ever slowing or breaking the notebook.

Configure it with ``PULSE_NOTEBOOK_ENDPOINT``, ``PULSE_NOTEBOOK_KEY`` and
``PULSE_NOTEBOOK_STUDENT`` (or ``%pulse_config endpoint=… key=… student=…``); docs/classroom.md
of Pulse says more.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .extension import load_ipython_extension, unload_ipython_extension

__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension"]
