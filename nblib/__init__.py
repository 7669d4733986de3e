"""nblib: the helpers shared by the course notebooks.

Small modules, each named after what it holds; import the one you need, e.g.
``from nblib import losses, gradcheck, check``. Nothing is imported eagerly here, so
``import nblib`` stays fast and does not pull in PyTorch.
"""

__version__ = "0.1.0"
