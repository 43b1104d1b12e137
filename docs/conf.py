"""Sphinx configuration of the lmnet documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (the ``docs`` tox env).
The API pages import the real packages (TensorFlow, Keras, NumPy …); nothing is mocked.
"""
import os
import sys

# Quiet TensorFlow's C++ logs while autodoc imports the modules.
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

DOCS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(DOCS_DIR)
sys.path.insert(0, REPO_ROOT)

import lmnet  # noqa: E402

# -- Project -------------------------------------------------------------------------------------

project = "lmnet"
author = "the lmnet developers"
copyright = "the lmnet developers"
version = lmnet.__version__
release = lmnet.__version__

# -- General -------------------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
nitpicky = False
default_role = None
pygments_style = "sphinx"

# -- autodoc -------------------------------------------------------------------------------------

# Members of the documented classes only: the Keras base classes' own docstrings are not in the
# Google style and would fill the build with warnings, so inherited members stay out, and a member
# without a docstring does not borrow its base class's one.
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    "show-inheritance": True,
}
autodoc_inherit_docstrings = False
autodoc_typehints = "none"
autoclass_content = "class"
autodoc_preserve_defaults = True

# -- napoleon (Google style) ---------------------------------------------------------------------

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_include_init_with_doc = False
napoleon_include_private_with_doc = False
napoleon_include_special_with_doc = False
napoleon_use_admonition_for_examples = False
napoleon_use_ivar = False
napoleon_use_param = True
napoleon_use_rtype = True
# Base classes list the class attributes their subclasses set under these headings; render them as
# a field list like "Args" rather than as loose paragraphs.
napoleon_custom_sections = [
    ("Class attributes", "params_style"),
    ("Class attributes that subclasses set", "params_style"),
]

# -- HTML ----------------------------------------------------------------------------------------

html_theme = "alabaster"
html_theme_options = {
    "description": "Tiny low-bit image models with TensorFlow 2 and Keras 3",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}
html_static_path = ["_static"]
html_title = f"lmnet {release}"
