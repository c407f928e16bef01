"""A pytest plugin for `make mutate` only: the tests import mutmut's mutated copies under the names mutmut expects.

mutmut 3 copies the tree into ./mutants and names each mutant after its file's path, so a mutant of
lambdas/shared/pipeline_core/metrics/gate.py belongs to the module `lambdas.shared.pipeline_core.metrics.gate`; a
mutated function runs its mutant only when its module's `__name__` is exactly that name. The tests import
`pipeline_core.metrics.gate` (which the editable install maps to the original, unmutated files) and load every
handler as `<folder>_handler_under_test` (tests/unit/handlers/handler_fixtures.py). Without this plugin every
mutant would "survive" because no test ever ran it.

So: `pipeline_core.*` and `pipeline_aws.*` become aliases of the one module imported as `lambdas.shared.<name>` from
./mutants, and each `<folder>_handler_under_test` is registered as `lambdas.<folder>.handler` before any test runs
(load_handler returns a module already in sys.modules). One copy of each module exists, so isinstance checks,
monkeypatching and module-level state behave as in the ordinary test run.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

PACKAGES = ("pipeline_core", "pipeline_aws")
SHARED = "lambdas.shared."


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers `pipeline_core.x` with the module already imported as `lambdas.shared.pipeline_core.x`."""

    def __init__(self) -> None:
        self.real_specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in PACKAGES:
            return None
        module = importlib.import_module(SHARED + fullname)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=hasattr(module, "__path__"))

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(SHARED + spec.name)
        self.real_specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system has just replaced __spec__ with the alias's; put back the real one so relative imports
        # and importlib.resources keep resolving against the mutated file.
        module.__spec__ = self.real_specs[module.__name__]


def _install() -> bool:
    """Alias the packages and register the handlers; runs when pytest imports this plugin (`-p`), before any conftest
    imports `pipeline_core` (a conftest importing it first would leave the tests holding the unmutated copy)."""
    lambdas = Path.cwd() / "lambdas"
    if Path.cwd().name != "mutants" or not lambdas.is_dir():
        return False
    for name in [n for n in sys.modules if n.partition(".")[0] in PACKAGES]:
        del sys.modules[name]  # imported from the original files before mutmut set up ./mutants
    if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Alias())
    for handler in sorted(lambdas.glob("*/handler.py")):
        folder = handler.parent.name
        sys.modules[f"{folder}_handler_under_test"] = importlib.import_module(f"lambdas.{folder}.handler")
    return True


INSTALLED = _install()


def pytest_configure(config: pytest.Config) -> None:
    if not INSTALLED:
        raise pytest.UsageError("tests/mutation_imports.py is for `make mutate` only (mutmut runs tests in ./mutants)")
