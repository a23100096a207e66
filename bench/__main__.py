"""Run benchmarks: ``python -m bench [name ...]``.

With names (``codec``, ``bus`` or ``bench/codec.py``) runs those modules;
without, every ``bench/*.py`` module that defines ``main()``, in name order.
Each ``main()`` runs with its own default options (``sys.argv`` holds only
the module's path); run a module directly to pass options to it. Exits 1 when
a named module does not exist or has no ``main()``.
"""

import importlib
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _module_name(arg):
    name = Path(arg).stem if arg.endswith(".py") else arg
    return name.rsplit(".", 1)[-1]


def discover():
    """Names of the bench modules that have a ``main()``."""
    names = []
    for info in sorted(pkgutil.iter_modules([str(HERE)]), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module("bench." + info.name)
        if callable(getattr(module, "main", None)):
            names.append(info.name)
    return names


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    names = [_module_name(a) for a in args] if args else discover()
    for name in names:
        try:
            module = importlib.import_module("bench." + name)
        except ModuleNotFoundError as exc:
            if exc.name != "bench." + name:
                raise
            print("Error: no benchmark %r in %s" % (name, HERE), file=sys.stderr)
            return 1
        run = getattr(module, "main", None)
        if not callable(run):
            print("Error: bench.%s has no main()" % name, file=sys.stderr)
            return 1
        print("== bench.%s" % name)
        # Each module's main() may parse sys.argv; give it none of ours.
        saved = sys.argv
        sys.argv = [str(HERE / (name + ".py"))]
        try:
            run()
        finally:
            sys.argv = saved
    return 0


if __name__ == "__main__":
    sys.exit(main())
