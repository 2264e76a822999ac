"""verl plugin (entry point group ``verl.plugins``): registers graphgpo's estimators on ``import verl``.

verl imports every ``verl.plugins`` entry point when it is imported, in the driver and in every Ray worker,
and logs a plugin that raises at DEBUG level only. So this module never raises: it logs a WARNING that
says why the estimators are missing instead.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("graphgpo.verl")

#: ``{verl registry name: graphgpo method}`` registered by this process (empty if registration failed)
REGISTERED: dict[str, str] = {}

try:
    from .registry import register_estimators

    REGISTERED = register_estimators()
except Exception as error:  # noqa: BLE001 - verl would swallow it at DEBUG level; say it loudly instead
    logger.warning("graphgpo: could not register its advantage estimators with verl (%s: %s); "
                   "algorithm.adv_estimator=graphgpo will not be found", type(error).__name__, error)
