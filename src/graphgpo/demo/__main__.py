"""``python -m graphgpo.demo``: the same as ``graphgpo demo``."""

import argparse

from . import __doc__ as _doc
from .cli import add_arguments, main

parser = argparse.ArgumentParser(prog="python -m graphgpo.demo", description=_doc.splitlines()[0])
add_arguments(parser)
raise SystemExit(main(parser.parse_args()))
