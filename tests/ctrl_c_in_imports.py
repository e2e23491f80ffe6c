"""Runs ``python -m <module>`` as if Ctrl-C came while it imports Lightning (seconds of a real start).

``python tests/ctrl_c_in_imports.py mnist_pl.table``: the import of ``lightning`` raises KeyboardInterrupt,
as Python's handler does for a Ctrl-C in the middle of it.
"""

import runpy
import sys
from importlib.abc import MetaPathFinder


class CtrlCOnLightning(MetaPathFinder):
    def find_spec(self, name: str, *args: object) -> None:
        if name == "lightning":
            raise KeyboardInterrupt


sys.meta_path.insert(0, CtrlCOnLightning())
module = sys.argv.pop(1)
runpy.run_module(module, run_name="__main__", alter_sys=True)
