"""``python -m graphgpo``: the same as the ``graphgpo`` command."""

from .cli import main

raise SystemExit(main())
