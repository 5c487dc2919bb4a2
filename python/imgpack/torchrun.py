"""``python3 -m imgpack.torchrun ARGS``: torchrun (torch.distributed.run), working on Debian 12.

PyTorch 1.13's launcher (Debian 12's python3-torch) fails at start on Python 3.11 with
"AttributeError: 'NoneType' object has no attribute 'get'": its Std.from_str looks values up by
iterating an IntFlag, which no longer yields the value 0 (Std.NONE, the default of --redirects
and --tee) on 3.11. This module fixes that lookup when it is broken, then runs torchrun's main
with the same arguments; where torchrun works, it is torchrun unchanged.
"""
import re
import sys

from torch.distributed.elastic.multiprocessing import api
from torch.distributed.run import main

_original_from_str = api.Std.from_str


def _from_str(vm):
    if re.fullmatch(r"\d", vm):
        return api.Std(int(vm))
    if re.fullmatch(r"(\d:\d,)*\d:\d", vm):
        return {int(i): api.Std(int(v)) for i, v in (m.split(":") for m in vm.split(","))}
    return _original_from_str(vm)


if _original_from_str("0") is None:
    api.Std.from_str = staticmethod(_from_str)

if __name__ == "__main__":
    sys.exit(main())
