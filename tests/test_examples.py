"""The examples run and learn."""
import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_softmax_regression_learns_digits():
    pytest.importorskip("sklearn")
    example = _load("softmax_regression")
    history = example.train(epochs=5, verbose=False)
    losses = [h[1] for h in history]
    accuracy = history[-1][2]
    # the loss falls from epoch to epoch, and the model beats 90% on held-out
    # digits (chance is 10%; multinomial logistic regression reaches ~96%)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * losses[0]
    assert accuracy > 0.90, accuracy
