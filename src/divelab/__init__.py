"""divelab — Dive into Deep Learning as a working lab.

Each topic of the course is implemented from scratch (``divelab.scratch``) and with
PyTorch's building blocks (``divelab.models``), trained on real data by one trainer, and
checked twin against twin. From Python::

    import divelab
    result = divelab.run("mlp", epochs=2)
"""

__version__ = "0.1.0"


def run(name: str, **kwargs):  # noqa: ANN201 - thin lazy wrapper, see divelab.runner.run
    """Run experiment ``name``; see :func:`divelab.runner.run`."""
    from divelab.runner import run as _run

    return _run(name, **kwargs)

