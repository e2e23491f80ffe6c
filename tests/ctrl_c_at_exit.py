"""Runs ``python -m mnist_pl <args>`` with a Ctrl-C as Python shuts down, after the run has said how it ended.

``python tests/ctrl_c_at_exit.py fit --config x.yaml``: a second Ctrl-C pressed as the first one's line came lands
in an atexit hook (torch's, in an audit); registered first, this one runs after the modules' own.
"""

import atexit
import os
import runpy
import signal
import sys
import time


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(1)  # Python's handler runs at the next instruction: here, or in the hooks after


atexit.register(ctrl_c)
sys.argv[0] = "__main__.py"  # as `python -m mnist_pl` names itself
runpy.run_module("mnist_pl", run_name="__main__", alter_sys=True)
