"""Reliability diagram of a classifier from fastxent.evaluate's bins.

A multinomial logistic regression on scikit-learn's digits, made
over-confident on purpose (its logits scaled by 3), is evaluated once;
the bars are each confidence bin's accuracy (correct_sum / count), the
diagonal is perfect calibration, and the gap between them is what ECE
averages.

    python examples/reliability_diagram.py [out.png]
"""
import sys

import numpy as np

import fastxent


def logits_and_labels(scale=3.0, seed=0):
    """Held-out logits of a linear model fitted by least squares on one-hot
    targets (fast, and calibrated badly enough to show)."""
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    X, y = X[order] / 16.0, y[order]
    train = slice(0, 1200)
    A = np.c_[X, np.ones(len(X))]
    W, *_ = np.linalg.lstsq(A[train], np.eye(10)[y[train]], rcond=None)
    return scale * 10.0 * (A[1200:] @ W), y[1200:]


def draw(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    b = result.bins
    centers = (b.edges[:-1] + b.edges[1:]) / 2
    width = np.diff(b.edges)
    full = b.count > 0
    acc = np.divide(b.correct_sum, b.count, out=np.zeros_like(b.count), where=full)
    conf = np.divide(b.confidence_sum, b.count, out=np.zeros_like(b.count), where=full)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.bar(centers[full], acc[full], width=width[full], edgecolor="k", label="accuracy")
    ax.bar(centers[full], (conf - acc)[full], bottom=acc[full], width=width[full],
           color="tab:red", alpha=0.4, label="gap to confidence")
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1),
           title=f"ECE {result.ece:.3f}, MCE {result.mce:.3f}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return acc, conf


def main(path="reliability_diagram.png"):
    x, y = logits_and_labels()
    result = fastxent.evaluate(x, y, n_bins=10, topk=(1, 3))
    print(result)
    draw(result, path)
    return result


if __name__ == "__main__":
    main(*sys.argv[1:2])
