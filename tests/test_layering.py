"""The rooms of lmnet import only downwards (configs -> training -> networks -> layers -> quantizations).

Reads every module's imports with ``ast`` (nothing is imported), so a new upward import fails here with the
module and the line that adds it.
"""
import ast
import os

import pytest

from tests.conftest import REPO

#: For each room (a package or module prefix under ``lmnet``), the rooms it must never import.
FORBIDDEN = {
    "lmnet.quantizations": ("lmnet.layers", "lmnet.networks", "lmnet.training", "lmnet.export", "lmnet.config"),
    "lmnet.layers": ("lmnet.networks", "lmnet.training", "lmnet.export", "lmnet.config"),
    "lmnet.networks": ("lmnet.training", "lmnet.export", "lmnet.evaluator", "lmnet.predict", "lmnet.runtime"),
    "lmnet.config": ("lmnet.training", "lmnet.export", "lmnet.networks"),
}
#: Only the trainer's own room (and the executors) may import lmnet.training.
TRAINING = "lmnet.training"


def lmnet_modules():
    """``(module name, path)`` of every module under ``lmnet/``."""
    root = os.path.join(REPO, "lmnet")
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                module = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                yield module, path


def imports(path):
    """``(line, imported module)`` of every absolute ``import`` / ``from … import`` in the file."""
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)


def inside(module, room):
    return module == room or module.startswith(room + ".") or module.startswith(room + "_")


MODULES = sorted(lmnet_modules())


@pytest.mark.parametrize("module, path", MODULES, ids=[module for module, _ in MODULES])
def test_module_imports_only_downwards(module, path):
    rooms = [room for room in FORBIDDEN if inside(module, room)]
    upward = [f"line {line}: {name}" for line, name in imports(path)
              for room in rooms for forbidden in FORBIDDEN[room] if inside(name, forbidden)]
    if not inside(module, TRAINING):
        upward += [f"line {line}: {name}" for line, name in imports(path) if inside(name, TRAINING)]
    assert not upward, f"{module} imports from a room above it: {sorted(set(upward))}"
