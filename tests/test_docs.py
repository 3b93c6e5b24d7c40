"""The docstring examples of the public modules run and print what they say."""
import doctest
import importlib

import pytest

MODULES = ["fastxent._xent", "fastxent._bce", "fastxent._softmax", "fastxent._info",
           "fastxent._logloss",
           "fastxent._threads", "fastxent._config", "fastxent.reference"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0


def test_every_public_function_has_a_docstring_with_an_example():
    import fastxent
    for name in fastxent.__all__:
        obj = getattr(fastxent, name)
        if callable(obj):
            assert obj.__doc__ and "Examples" in obj.__doc__, name
