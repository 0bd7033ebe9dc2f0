"""What the figure scripts share: their command line ([path/to/asi-emu] [ops] [seed]) and
pulling a number out of the guest's console summary."""
import re
import sys


def args():
    emu = sys.argv[1] if len(sys.argv) > 1 else "build/default/emu/asi-emu"
    ops = sys.argv[2] if len(sys.argv) > 2 else "20000"
    seed = sys.argv[3] if len(sys.argv) > 3 else "7"
    return emu, ops, seed


def grab(pattern, text, group=1, default="-"):
    m = re.search(pattern, text)
    return m.group(group) if m else default
