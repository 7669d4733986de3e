"""nblib: the learner's library of the course. Read it beside the notebooks.

The lesson modules hold what a notebook first writes out in its cells (the formula, the update
rule, the backward pass); after that the notebook imports it from here:

=================  ======  =====================================================================
module             from    what it holds
=================  ======  =====================================================================
``losses``         01      MSE, sigmoid + binary cross-entropy, stable softmax cross-entropy,
                           and their gradients
``gradcheck``      01      central-difference numerical gradients, readable comparisons
``data``           01, 02  small data sets made by code (the line, blobs, moons, spirals, XOR)
``gd``             02      gradient descent on linear regression; the course's divergence rule
``optim``          03      SGD, momentum, RMSProp, Adam, AdamW as step functions; schedules
``surfaces``       03      two-parameter test surfaces (ravine, Rosenbrock) with exact gradients
``layers``         04      forward/backward pairs with caches; the L-layer MLP
``autograd``       05      ``Value``: a scalar reverse-mode autodiff engine; a tiny MLP on it
``torchbridge``    06      the numpy MLP and its PyTorch twin, number for number
``norm``           07      batch normalisation, gradient clipping, a deep MLP that uses them
``regularize``     08      the L2 penalty (weight decay), inverted dropout, polynomial fits
``sanity``         08      checks before a long training run
``train``          08, 09  the course's training loop with early stopping; accuracy, confusion
``digits``         09      the bundled 8x8 handwritten digits, split and standardised
``conv``           10      convolution, pooling and flatten, forward and backward
``mnist``          10      MNIST from IDX files a learner already has (never downloads)
``diagnose``       11      diagnostics for the bugs of the bug zoo, for your own code
=================  ======  =====================================================================

Furniture, not lessons (what the notebooks call so that they can stay short):

* ``check``     - the exercise checkers (``check.<exercise>(your_function)``), one module per
  notebook; ``check.progress()`` shows which exercises pass in this kernel.
* ``widgets``   - the interactive explorers, one module per notebook, on ``widgets.Explorer``.
* ``plots``, ``graphs`` - plot style and helpers; drawings of small computational graphs.
* ``_validate`` - the input checks every public function shares.

The course's machinery (student edition, slides, benchmark, test runner) is not here: it is
the ``tools`` package of the repository, and nothing in ``nblib`` imports it.

Nothing is imported eagerly here, so ``import nblib`` stays fast and does not pull in PyTorch:
import the module you need, e.g. ``from nblib import losses, gradcheck, check``.
"""

__version__ = "0.1.0"
