"""Reference numbers of specs/small-cnn.yaml, computed by Keras (TensorFlow
backend, float64), not by gradcli.

Writes small_cnn.npz (the images and the network's weights, drawn by seeded
numpy and keyed net.INDEX.NAME with Keras's weight names, as
`gradcli params --format npz` writes them) and prints the expect: block:
the outputs and the gradient of their sum by the images and by every
trainable weight (tf.GradientTape, persistent).

    python specs/data/small_cnn_reference.py       # needs keras and tensorflow
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).parent


def model():  # type: ignore[no-untyped-def]
    import keras

    keras.config.set_floatx("float64")
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(4, 4, 1)),
        layers.Conv2D(2, 2, padding="same", activation="tanh"),  # net.0: padded bottom/right
        layers.MaxPooling2D(2),                                   # net.1
        layers.BatchNormalization(),                              # net.2
        layers.Flatten(),                                         # net.3
        layers.Dense(1, activation="sigmoid"),                    # net.4
    ])


def arrays(net) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2024)
    out = {"images": rng.uniform(0, 1, (2, 4, 4, 1))}
    for index, layer in enumerate(net.layers):
        values = []
        for weight in layer.weights:
            name = weight.name.split("/")[-1]
            shape = tuple(weight.shape)
            value = rng.uniform(0.5, 1.5, shape) if name == "moving_variance" else \
                rng.normal(0.0, 0.5, shape)
            values.append(value)
            out[f"net.{index}.{name}"] = value
        layer.set_weights(values)
    return out


def main() -> None:
    import tensorflow as tf

    net = model()
    data = arrays(net)
    np.savez(HERE / "small_cnn.npz", **data)
    images = tf.constant(data["images"])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(images)
        y = net(images, training=False)
    grads = {"images": tape.gradient(y, images)}
    for index, layer in enumerate(net.layers):
        for weight in layer.trainable_weights:
            grads[f"net.{index}.{weight.name}"] = tape.gradient(y, weight)
    print("expect:\n  value:\n    y: " + repr(np.asarray(y).tolist()))
    print("  grad:")
    for key, value in grads.items():
        print(f"    {key}: {np.asarray(value).tolist()!r}")


if __name__ == "__main__":
    main()
