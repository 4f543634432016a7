"""attncast_kinds.py - the attention kinds an attncast binary knows, in its own order.

They come from the binary itself (the model.attention line of `attncast train --help`, which
lists the names of AC_ATTENTION_KINDS in include/attncast/forecaster.h), so the tools never hold
a list of their own: a kind added to the C table reaches them without an edit.

    from attncast_kinds import attention_kinds
    attention_kinds("build/attncast")   # ('additive', 'dot', 'gated', 'cosine')

Standard library only.
"""
import re
import subprocess

_KEY_LINE = re.compile(r"^\s*model\.attention\s.*\[([A-Za-z0-9_|-]+)\]\s*$")


def attention_kinds(binary):
    """The kinds `binary` accepts for model.attention, as a tuple of names."""
    try:
        p = subprocess.run([binary, "train", "--help"], capture_output=True, text=True)
    except OSError as e:
        raise SystemExit(f"{binary}: cannot run it to list the attention kinds: {e}")
    for line in p.stdout.splitlines():
        m = _KEY_LINE.match(line)
        if m:
            return tuple(m.group(1).split("|"))
    raise SystemExit(f"{binary} train --help: no model.attention line listing the kinds")


if __name__ == "__main__":
    import sys

    print(" ".join(attention_kinds(sys.argv[1] if len(sys.argv) > 1 else "build/attncast")))
