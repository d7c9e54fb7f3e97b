"""Train a small MLP on scikit-learn's digits with NumPy; checkpoint, resume, and stop cleanly.

Runs under trainplane (or any SageMaker-style environment) through trainplane.runtime:
hyperparameters from SM_HPS, checkpoints in SM_CHECKPOINT_DIR, the model in SM_MODEL_DIR. On SIGTERM
it finishes the current minibatch, saves a checkpoint and the model, tells the supervisor the model
is complete, and exits 0. Prints one line per epoch: `epoch=3 train_loss=0.4123 val_accuracy=0.9361`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sklearn.datasets import load_digits

from trainplane import runtime

CHECKPOINT_FILE = "checkpoint.npz"
VALIDATION_FRACTION = 0.2
Number = TypeVar("Number", int, float)


@dataclass(frozen=True)
class Settings:
    epochs: int
    learning_rate: float
    batch_size: int
    seconds_per_epoch: float
    checkpoint_every: int
    hidden_units: int
    seed: int


def parse_settings(hps: dict[str, str]) -> Settings:
    """The hyperparameters, checked; raises ValueError naming the bad one."""
    settings = Settings(
        epochs=_number(hps, "epochs", int, 100_000),
        learning_rate=_number(hps, "learning_rate", float, 0.1),
        batch_size=_number(hps, "batch_size", int, 32),
        seconds_per_epoch=_number(hps, "seconds_per_epoch", float, 0.0),
        checkpoint_every=_number(hps, "checkpoint_every", int, 1),
        hidden_units=_number(hps, "hidden_units", int, 64),
        seed=_number(hps, "seed", int, 0),
    )
    checks = [
        ("epochs", settings.epochs >= 1, "must be at least 1"),
        ("learning_rate", 0 < settings.learning_rate < 10, "must be in (0, 10)"),
        ("batch_size", settings.batch_size >= 1, "must be at least 1"),
        ("seconds_per_epoch", settings.seconds_per_epoch >= 0, "must not be negative"),
        ("checkpoint_every", settings.checkpoint_every >= 1, "must be at least 1"),
        ("hidden_units", settings.hidden_units >= 1, "must be at least 1"),
    ]
    for name, is_valid, rule in checks:
        if not is_valid:
            raise ValueError(f"hyperparameter {name}={hps.get(name)!r} {rule}")
    return settings


def _number(hps: dict[str, str], name: str, kind: Callable[[str], Number], default: Number) -> Number:
    if name not in hps:
        return default
    try:
        return kind(hps[name])
    except ValueError:
        raise ValueError(f"hyperparameter {name}={hps[name]!r} is not a number") from None


def load_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1], split 80/20 with a fixed permutation (same split on resume)."""
    digits = load_digits()
    features = digits.data.astype(np.float64) / 16.0
    order = np.random.default_rng(seed).permutation(len(features))
    cut = int(len(features) * (1 - VALIDATION_FRACTION))
    train, val = order[:cut], order[cut:]
    return features[train], digits.target[train], features[val], digits.target[val]


def new_weights(inputs: int, hidden: int, classes: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.normal(0, np.sqrt(2 / inputs), (inputs, hidden)),
        "b1": np.zeros(hidden),
        "w2": rng.normal(0, np.sqrt(2 / hidden), (hidden, classes)),
        "b2": np.zeros(classes),
    }


def forward(weights: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hidden = np.maximum(0, x @ weights["w1"] + weights["b1"])
    logits = hidden @ weights["w2"] + weights["b2"]
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return hidden, probabilities


def sgd_step(weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, rate: float) -> float:
    """One minibatch of softmax cross-entropy SGD; returns the batch loss."""
    hidden, probabilities = forward(weights, x)
    rows = np.arange(len(y))
    loss = float(-np.log(probabilities[rows, y] + 1e-12).mean())
    grad_logits = probabilities
    grad_logits[rows, y] -= 1
    grad_logits /= len(y)
    grad_hidden = (grad_logits @ weights["w2"].T) * (hidden > 0)
    weights["w2"] -= rate * hidden.T @ grad_logits
    weights["b2"] -= rate * grad_logits.sum(axis=0)
    weights["w1"] -= rate * x.T @ grad_hidden
    weights["b1"] -= rate * grad_hidden.sum(axis=0)
    return loss


def accuracy(weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    return float((forward(weights, x)[1].argmax(axis=1) == y).mean())


def save_npz(path: Path, arrays: dict[str, Any]) -> None:
    """Write atomically: a crash or SIGKILL leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as sink:
        np.savez(sink, **arrays)
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(temporary, path)


def save_checkpoint(weights: dict[str, np.ndarray], epoch: int) -> None:
    save_npz(runtime.checkpoint_dir() / CHECKPOINT_FILE, {**weights, "epoch": np.array(epoch)})


def load_checkpoint() -> tuple[dict[str, np.ndarray], int] | None:
    path = runtime.checkpoint_dir() / CHECKPOINT_FILE
    if not path.is_file():
        return None
    with np.load(path) as saved:
        weights = {name: saved[name] for name in ("w1", "b1", "w2", "b2")}
        return weights, int(saved["epoch"])


def onnx_bytes(weights: dict[str, np.ndarray]) -> bytes | None:
    """The MLP as ONNX (input `x`: [N, 64] floats; output `probabilities`), if the onnx package is here."""
    try:
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["l0"]),
        helper.make_node("Add", ["l0", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    inputs, classes = weights["w1"].shape[0], weights["w2"].shape[1]
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", inputs])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])],
        [numpy_helper.from_array(array.astype(np.float32), name) for name, array in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return bytes(model.SerializeToString())


def save_model(weights: dict[str, np.ndarray], epoch: int, val_accuracy: float, is_stopped: bool) -> None:
    """model.npz, model.json and (for compilation jobs, where onnx is installed) model.onnx."""
    model_dir = runtime.model_dir()
    save_npz(model_dir / "model.npz", weights)
    onnx_model = onnx_bytes(weights)
    if onnx_model is not None:
        temporary = model_dir / ".model.onnx.tmp"
        temporary.write_bytes(onnx_model)
        os.replace(temporary, model_dir / "model.onnx")
    summary = {"epoch": epoch, "val_accuracy": val_accuracy, "is_stopped": is_stopped}
    temporary = model_dir / ".model.json.tmp"
    temporary.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(temporary, model_dir / "model.json")


def train(settings: Settings) -> None:
    x_train, y_train, x_val, y_val = load_data(settings.seed)
    resumed = load_checkpoint()
    if resumed is None:
        weights, epoch = new_weights(x_train.shape[1], settings.hidden_units, 10, settings.seed), 0
    else:
        weights, epoch = resumed
        print(f"resumed from epoch={epoch}", flush=True)
    rng = np.random.default_rng(settings.seed + epoch)
    while epoch < settings.epochs:
        losses = []
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), settings.batch_size):
            if runtime.stop_requested():
                return stop(weights, epoch, accuracy(weights, x_val, y_val))
            batch = order[start : start + settings.batch_size]
            losses.append(sgd_step(weights, x_train[batch], y_train[batch], settings.learning_rate))
        epoch += 1
        val_accuracy = accuracy(weights, x_val, y_val)
        print(f"epoch={epoch} train_loss={np.mean(losses):.4f} val_accuracy={val_accuracy:.4f}", flush=True)
        if epoch % settings.checkpoint_every == 0:
            save_checkpoint(weights, epoch)
        if runtime.wait_for_stop(settings.seconds_per_epoch):
            return stop(weights, epoch, val_accuracy)
    save_checkpoint(weights, epoch)
    save_model(weights, epoch, accuracy(weights, x_val, y_val), is_stopped=False)
    print(f"training complete at epoch={epoch}", flush=True)


def stop(weights: dict[str, np.ndarray], epoch: int, val_accuracy: float) -> None:
    """Save everything a resumed job and a user of model.tar.gz need, then report it complete."""
    save_checkpoint(weights, epoch)
    save_model(weights, epoch, val_accuracy, is_stopped=True)
    # Last: once the checkpoint is reported complete the supervisor may end the job at once, so
    # anything after it (this line, seen flaking in CI) can be cut off by the SIGKILL.
    print(f"stop requested: saved checkpoint and model at epoch={epoch}", flush=True)
    runtime.checkpoint_complete()


def main() -> int:
    runtime.install()
    try:
        settings = parse_settings(runtime.hyperparameters())
    except ValueError as exc:
        runtime.write_failure(str(exc))
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        train(settings)
    except Exception as exc:  # SageMaker convention: the reason goes to output/failure, exit non-zero
        runtime.write_failure(f"{type(exc).__name__}: {exc}")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
