"""The docstring examples of the public modules run and print what they say.

The modules are found from the public API (the module of each function in
``fastxent.__all__``) and from the reference package's modules, so a module
renamed or added inside the package is picked up without editing this file.
"""
import doctest
import importlib
import pkgutil

import pytest

import fastxent
from fastxent import reference


def docstring_modules():
    names = {getattr(fastxent, n).__module__ for n in fastxent.__all__
             if callable(getattr(fastxent, n))}
    names |= {f"{reference.__name__}.{m.name}" for m in pkgutil.iter_modules(reference.__path__)
              if not m.name.startswith("_")}
    return sorted(names)


def test_the_modules_are_found():
    names = docstring_modules()
    assert "fastxent.reference.xent" in names and len(names) >= 8, names
    assert all(name.startswith("fastxent.") for name in names), names


@pytest.mark.parametrize("name", docstring_modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0


def test_every_public_function_has_a_docstring_with_an_example():
    for name in fastxent.__all__:
        obj = getattr(fastxent, name)
        if callable(obj):
            assert obj.__doc__ and "Examples" in obj.__doc__, name


def test_every_twin_has_a_docstring_with_an_example():
    for name in reference.__all__:
        doc = getattr(reference, name).__doc__
        assert doc and "Examples" in doc, name
